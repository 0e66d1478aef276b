/** The review app's static assets, as strings so they ship inside dist/ with the server. */
export { APP_HTML } from './html.js';
export { APP_CSS } from './style.js';
export { APP_JS } from './client.js';
