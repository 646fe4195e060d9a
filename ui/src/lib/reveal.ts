// A Svelte action: brings an element that just appeared (a progress bar, an error) into view, so
// what happens after a click is never below the fold.
export function reveal(node: HTMLElement): void {
  node.scrollIntoView?.({ block: 'nearest' });
}
