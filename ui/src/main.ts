// Entry point of the Hallmark UI: mounts the app shell.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { startTheme } from './lib/theme';

// The theme chosen in Settings, before the first paint.
startTheme();

const target = document.getElementById('app');
if (!target) throw new Error('the page has no #app element to mount Hallmark into');

export default mount(App, { target });
