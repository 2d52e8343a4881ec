// The console's shell: sign-in with an API key, then a hash router between the APIs list and a
// stage page. Every call goes to the admin listener's control plane with x-api-key.

import { api, session } from './api.js';
import { h, notice, replace } from './dom.js';
import { renderStagePage } from './stage-page.js';
import { renderStagesPage } from './stages-page.js';

const root = document.getElementById('app');
const nav = document.getElementById('session');
let stopPage = () => {};

function route() {
  stopPage();
  stopPage = () => {};
  if (!session.apiKey) return renderLogin();
  nav.hidden = false;
  const match = /^#\/restapis\/([^/]+)\/stages\/([^/]+)$/.exec(location.hash);
  const context = { onApiError };
  stopPage = match
    ? renderStagePage(root, decodeURIComponent(match[1]), decodeURIComponent(match[2]), context)
    : renderStagesPage(root, context);
}

/** A key that stops working (revoked, config reloaded) sends the user back to sign in. */
function onApiError(error) {
  if (!error?.isAuthentication) return;
  session.signOut();
  route();
  const status = document.querySelector('[data-testid="login-status"]');
  if (status) replace(status, notice('error', `Signed out: ${error}`, 'login-error'));
}

function renderLogin() {
  nav.hidden = true;
  const input = h('input', { type: 'password', id: 'api-key', name: 'apiKey', autocomplete: 'current-password', required: true, 'data-testid': 'api-key', autofocus: true });
  const status = h('div', { 'data-testid': 'login-status' });
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-in' }, 'Sign in');
  const form = h('form', { class: 'card login', onsubmit: async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return replace(status, notice('error', 'Enter the API key of an identity from the gateway config.', 'login-error'));
    button.disabled = true;
    session.signIn(key);
    try {
      // Proves the key before showing anything: needs apigateway:GET on /restapis.
      await api.getRestApis();
      route();
    } catch (error) {
      session.signOut();
      replace(status, notice('error', String(error), 'login-error'));
    } finally {
      button.disabled = false;
    }
  } },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Use the API key (apiKey) of an identity whose policy allows apigateway:* actions. It is kept for this browser tab only.'),
    h('label', { for: 'api-key' }, 'API key'), input,
    h('div', { class: 'actions' }, button),
    status);
  replace(root, form);
  input.focus();
}

document.getElementById('logout').addEventListener('click', () => {
  session.signOut();
  location.hash = '#/';
  route();
});
window.addEventListener('hashchange', route);
route();
