// Which screen of the app is showing.
export type Page = 'datasets' | 'publish' | 'earnings' | 'settings';

export const PAGES: readonly { id: Page; label: string; hint: string }[] = [
  { id: 'datasets', label: 'Datasets', hint: 'Your folders of work, sealed into datasets' },
  { id: 'publish', label: 'Publish', hint: 'Send a signed dataset to a marketplace' },
  { id: 'earnings', label: 'Earnings', hint: 'What each dataset earned, verified' },
  { id: 'settings', label: 'Settings', hint: 'Identity, marketplaces and defaults' },
];

class Navigation {
  page = $state<Page>('datasets');

  go(page: Page): void {
    this.page = page;
  }
}

export const nav = new Navigation();
