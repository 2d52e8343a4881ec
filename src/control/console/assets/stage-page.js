// A stage: live counters and charts, the cache settings form (UpdateStage patch operations),
// per-method overrides, Flush entire cache (FlushStageCache) and purge by tag or path prefix,
// both behind a confirmation.

import { api, methodSettingPath } from './api.js';
import { stageCharts } from './charts.js';
import { h, notice, replace } from './dom.js';
import { formatBytes, formatCount, formatRate, formatRatio, formatSeconds, hitRatio, sizeLabel } from './format.js';
import { statusBadge, usageBar } from './stages-page.js';

const REFRESH_MS = 1000;
// AWS cache cluster sizes (GB).
const SIZES = ['0.5', '1.6', '6.1', '13.5', '28.4', '58.2', '118', '237'];
// Purge kinds: the select's value → how the form, the confirmation and the answer read.
const PURGE_KINDS = {
  tag: { option: 'by tag', label: 'Tag', placeholder: 'product-42', hint: 'One Surrogate-Key / Cache-Tag value, matched exactly (case-sensitive).', subject: (v) => `tagged ${v}` },
  prefix: { option: 'by path prefix', label: 'Path prefix', placeholder: '/pets', hint: 'Whole segments after the stage: /pets purges /pets and /pets/7, not /petshop.', subject: (v) => `under ${v}` },
};
const STRATEGIES = ['FAIL_WITH_403', 'SUCCEED_WITH_RESPONSE_HEADER', 'SUCCEED_WITHOUT_RESPONSE_HEADER'];
// AWS defaults of a method setting (SPEC §5); caching defaults on for GET when the stage cache is on.
const DEFAULTS = { cachingEnabled: true, cacheTtlInSeconds: 300, cacheDataEncrypted: false, requireAuthorizationForCacheControl: true, unauthorizedCacheControlHeaderStrategy: 'SUCCEED_WITH_RESPONSE_HEADER' };
// MethodSetting field → the last part of its UpdateStage patch path (`/*/*/caching/ttlInSeconds`).
const PATCH_NAMES = { cachingEnabled: 'enabled', cacheTtlInSeconds: 'ttlInSeconds', cacheDataEncrypted: 'dataEncrypted', requireAuthorizationForCacheControl: 'requireAuthorizationForCacheControl', unauthorizedCacheControlHeaderStrategy: 'unauthorizedCacheControlHeaderStrategy' };

export function renderStagePage(root, restApiId, stageName, { onApiError }) {
  let stopped = false;
  let timer;
  let charts;
  let stage;
  let resources = [];

  const title = h('h1', {}, stageName);
  const badge = h('span');
  const pageStatus = h('div', { class: 'page-status' });
  const counters = countersPanel();
  const chartBoxes = { traffic: h('div', { class: 'chart', 'data-testid': 'chart-traffic' }), latency: h('div', { class: 'chart', 'data-testid': 'chart-latency' }), evictions: h('div', { class: 'chart', 'data-testid': 'chart-evictions' }) };
  const settingsBox = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading stage…'));
  const overridesBox = h('section', { class: 'card overrides-card' });
  const flushBox = flushPanel();

  replace(root, h('section', { class: 'page' },
    h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'APIs'), ' / ', h('span', {}, restApiId), ' / ', h('span', {}, 'stages')),
    h('div', { class: 'title-row' }, title, badge),
    pageStatus,
    counters.element,
    h('section', { class: 'card charts' }, h('h2', {}, 'Live traffic'), h('div', { class: 'chart-grid' }, chartBoxes.traffic, chartBoxes.latency, chartBoxes.evictions)),
    // Overrides span the page: seven columns do not fit beside the settings form at 1280 px.
    h('div', { class: 'columns' }, settingsBox, flushBox.element),
    overridesBox));

  function show(updated) {
    stage = updated;
    replace(badge, statusBadge(stage.cacheClusterStatus));
    renderSettings();
    renderOverrides();
  }

  // ---- Cache settings (stage + */*) ----

  function stageWide() {
    return { ...DEFAULTS, ...pick(stage.methodSettings?.['*/*']) };
  }

  function renderSettings() {
    const wide = stageWide();
    const status = h('div', { 'data-testid': 'settings-status' });
    const fields = {
      cacheClusterEnabled: h('input', { type: 'checkbox', id: 'f-enabled', name: 'cacheClusterEnabled', checked: Boolean(stage.cacheClusterEnabled), 'data-testid': 'cache-enabled' }),
      cacheClusterSize: h('select', { id: 'f-size', name: 'cacheClusterSize', 'data-testid': 'cache-size' },
        SIZES.map((size) => h('option', { value: size, selected: size === String(stage.cacheClusterSize) }, sizeLabel(size)))),
      cachingEnabled: h('input', { type: 'checkbox', id: 'f-caching', checked: wide.cachingEnabled, 'data-testid': 'caching-enabled' }),
      cacheTtlInSeconds: h('input', { type: 'number', id: 'f-ttl', inputmode: 'numeric', step: '1', value: String(wide.cacheTtlInSeconds), 'data-testid': 'default-ttl' }),
      cacheDataEncrypted: h('input', { type: 'checkbox', id: 'f-encrypted', checked: wide.cacheDataEncrypted, 'data-testid': 'data-encrypted' }),
      requireAuthorizationForCacheControl: h('input', { type: 'checkbox', id: 'f-require-auth', checked: wide.requireAuthorizationForCacheControl, 'data-testid': 'require-auth' }),
      unauthorizedCacheControlHeaderStrategy: strategySelect('f-strategy', wide.unauthorizedCacheControlHeaderStrategy, 'unauthorized-strategy'),
    };
    const sizeHint = h('small', { class: 'hint' }, 'AWS cacheClusterSize, in GiB (0.5 = 512 MiB). Changing the size starts a new, empty cache (as on AWS).');
    const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'save-settings' }, 'Save changes');

    const form = h('form', { class: 'settings', novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const operations = [];
      if (fields.cacheClusterEnabled.checked !== Boolean(stage.cacheClusterEnabled)) operations.push(replaceOp('/cacheClusterEnabled', fields.cacheClusterEnabled.checked));
      if (fields.cacheClusterSize.value !== String(stage.cacheClusterSize)) operations.push(replaceOp('/cacheClusterSize', fields.cacheClusterSize.value));
      operations.push(...settingOps('*/*', wide, {
        cachingEnabled: fields.cachingEnabled.checked,
        cacheTtlInSeconds: fields.cacheTtlInSeconds.value.trim(),
        cacheDataEncrypted: fields.cacheDataEncrypted.checked,
        requireAuthorizationForCacheControl: fields.requireAuthorizationForCacheControl.checked,
        unauthorizedCacheControlHeaderStrategy: fields.unauthorizedCacheControlHeaderStrategy.value,
      }));
      if (operations.length === 0) return replace(status, notice('info', 'Nothing changed.'));
      await submit(save, status, operations, `Saved: ${describe(operations)}.`);
    } },
      h('h2', {}, 'Cache settings'),
      h('fieldset', {}, h('legend', {}, 'Stage cache'),
        row(fields.cacheClusterEnabled, 'Enable API cache', 'Turn the stage cache on (cacheClusterEnabled).'),
        field('f-size', 'Cache capacity', fields.cacheClusterSize, sizeHint)),
      h('fieldset', {}, h('legend', {}, 'Default method settings (*/*)'),
        row(fields.cachingEnabled, 'Cache GET methods', 'Other methods are cached only through an override.'),
        field('f-ttl', 'Cache time-to-live (TTL), seconds', fields.cacheTtlInSeconds, h('small', { class: 'hint' }, '0 to 3600; 0 turns caching off.')),
        row(fields.cacheDataEncrypted, 'Encrypt cache data', 'AES-256-GCM with store.encryptionKey.'),
        row(fields.requireAuthorizationForCacheControl, 'Require authorization for Cache-Control: max-age=0', 'Callers need execute-api:InvalidateCache to refresh an entry.'),
        field('f-strategy', 'Unauthorized Cache-Control requests', fields.unauthorizedCacheControlHeaderStrategy)),
      h('div', { class: 'actions' }, save),
      status);
    replace(settingsBox, form);
  }

  // ---- Per-method overrides ----

  function renderOverrides() {
    const status = h('div', { 'data-testid': 'overrides-status' });
    const keys = Object.keys(stage.methodSettings ?? {}).filter((key) => key !== '*/*').sort();
    const table = keys.length === 0
      ? h('p', { class: 'muted' }, 'No overrides: every method uses the defaults.')
      : h('table', { class: 'grid overrides stack' },
        h('thead', {}, h('tr', {}, ['Method', 'Caching', 'TTL (s)', 'Encrypt', 'Require auth', 'Unauthorized strategy', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, keys.map((key) => overrideRow(key, status))));

    const candidates = methodKeys().filter((key) => !keys.includes(key));
    const picker = h('select', { 'data-testid': 'override-method', 'aria-label': 'Method' }, candidates.map((key) => h('option', { value: key }, key)));
    const ttl = h('input', { type: 'number', step: '1', value: String(stageWide().cacheTtlInSeconds), 'data-testid': 'override-ttl', 'aria-label': 'TTL for the new override', class: 'narrow' });
    const add = h('button', { type: 'submit', 'data-testid': 'add-override', disabled: candidates.length === 0 }, 'Add override');
    const addForm = h('form', { class: 'inline', novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const key = picker.value;
      if (!key) return;
      await submit(add, status, [replaceOp(`${methodSettingPath(key)}/caching/ttlInSeconds`, ttl.value.trim())], `Override ${key} added.`);
    } }, picker, h('label', {}, 'TTL ', ttl), add);

    replace(overridesBox,
      h('h2', {}, 'Per-method overrides'),
      h('p', { class: 'muted' }, 'The most specific setting wins, field by field (pets/{petId}/GET over */*).'),
      table,
      candidates.length ? addForm : null,
      status);
  }

  function overrideRow(key, status) {
    const effective = { ...stageWide(), ...pick(stage.methodSettings[key]) };
    const inputs = {
      cachingEnabled: h('input', { type: 'checkbox', checked: effective.cachingEnabled, 'aria-label': `${key} caching` }),
      cacheTtlInSeconds: h('input', { type: 'number', step: '1', value: String(effective.cacheTtlInSeconds), class: 'narrow', 'aria-label': `${key} TTL`, 'data-testid': 'override-row-ttl' }),
      cacheDataEncrypted: h('input', { type: 'checkbox', checked: effective.cacheDataEncrypted, 'aria-label': `${key} encryption` }),
      requireAuthorizationForCacheControl: h('input', { type: 'checkbox', checked: effective.requireAuthorizationForCacheControl, 'aria-label': `${key} require authorization` }),
      unauthorizedCacheControlHeaderStrategy: strategySelect(undefined, effective.unauthorizedCacheControlHeaderStrategy),
    };
    const save = h('button', { type: 'button', 'data-testid': 'save-override' }, 'Save');
    const remove = h('button', { type: 'button', class: 'link danger', 'data-testid': 'remove-override' }, 'Remove');
    save.addEventListener('click', async () => {
      const operations = settingOps(key, effective, {
        cachingEnabled: inputs.cachingEnabled.checked,
        cacheTtlInSeconds: inputs.cacheTtlInSeconds.value.trim(),
        cacheDataEncrypted: inputs.cacheDataEncrypted.checked,
        requireAuthorizationForCacheControl: inputs.requireAuthorizationForCacheControl.checked,
        unauthorizedCacheControlHeaderStrategy: inputs.unauthorizedCacheControlHeaderStrategy.value,
      });
      if (operations.length === 0) return replace(status, notice('info', `Nothing changed for ${key}.`));
      await submit(save, status, operations, `Saved ${key}: ${describe(operations)}.`);
    });
    remove.addEventListener('click', () => submit(remove, status, [{ op: 'remove', path: methodSettingPath(key) }], `Override ${key} removed.`));
    // data-label names each cell where a narrow screen stacks the row (style.css).
    return h('tr', { 'data-testid': `override-${key}` },
      h('td', { 'data-label': 'Method' }, h('code', {}, key)),
      h('td', { 'data-label': 'Caching' }, inputs.cachingEnabled), h('td', { 'data-label': 'TTL (s)' }, inputs.cacheTtlInSeconds),
      h('td', { 'data-label': 'Encrypt' }, inputs.cacheDataEncrypted), h('td', { 'data-label': 'Require auth' }, inputs.requireAuthorizationForCacheControl),
      h('td', { 'data-label': 'Unauthorized strategy' }, inputs.unauthorizedCacheControlHeaderStrategy),
      h('td', { class: 'row-actions' }, save, remove));
  }

  /** `pets/{petId}/GET` keys of the API's methods (ANY offered as GET, the cached method). */
  function methodKeys() {
    const keys = [];
    for (const resource of resources) {
      for (const method of Object.keys(resource.resourceMethods ?? {})) {
        keys.push(`${resource.path.slice(1)}/${method === 'ANY' ? 'GET' : method}`);
      }
    }
    return [...new Set(keys)].sort();
  }

  // ---- Flush ----

  function flushPanel() {
    const status = h('div', { 'data-testid': 'flush-status' });
    const entries = h('strong', {}, '…');
    const confirm = h('button', { type: 'button', class: 'danger', 'data-testid': 'flush-confirm' }, 'Flush cache');
    const cancel = h('button', { type: 'button', 'data-testid': 'flush-cancel' }, 'Cancel');
    const dialog = h('dialog', { 'data-testid': 'flush-dialog', 'aria-labelledby': 'flush-title' },
      h('h2', { id: 'flush-title' }, `Flush the ${stageName} cache?`),
      h('p', {}, 'All ', entries, ' entries of this stage are deleted at once, on every node sharing the store. The next requests go to the integration until the cache fills again.'),
      h('div', { class: 'actions' }, cancel, confirm));
    const open = h('button', { type: 'button', class: 'danger', 'data-testid': 'flush' }, 'Flush entire cache');
    open.addEventListener('click', () => {
      entries.textContent = counters.entries();
      dialog.showModal();
    });
    cancel.addEventListener('click', () => {
      dialog.close();
      replace(status, notice('info', 'Flush cancelled.'));
    });
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      try {
        await api.flushStageCache(restApiId, stageName);
        dialog.close();
        replace(status, notice('ok', `Cache of ${stageName} flushed.`, 'flush-ok'));
        void refreshStats(false);
      } catch (error) {
        dialog.close();
        replace(status, notice('error', String(error), 'flush-error'));
        onApiError(error);
      } finally {
        confirm.disabled = false;
      }
    });
    return { element: h('section', { class: 'card danger-zone' }, h('h2', {}, 'Flush'), h('p', { class: 'muted' }, 'Empties this stage cache, whatever its size (FlushStageCache).'), open, dialog, status, purgePanel().element) };
  }

  // ---- Purge by tag or path prefix ----

  function purgePanel() {
    const status = h('div', { 'data-testid': 'purge-status' });
    const kind = h('select', { id: 'f-purge-kind', 'data-testid': 'purge-kind', 'aria-label': 'Purge entries' },
      Object.entries(PURGE_KINDS).map(([value, k]) => h('option', { value }, k.option)));
    const value = h('input', { type: 'text', id: 'f-purge-value', spellcheck: 'false', autocomplete: 'off', 'data-testid': 'purge-value' });
    const valueLabel = h('label', { for: 'f-purge-value', class: 'sr-only' });
    const hint = h('small', { class: 'hint' });
    const purge = h('button', { type: 'submit', class: 'danger', 'data-testid': 'purge' }, 'Purge');
    const question = h('h2', { id: 'purge-title' });
    const confirm = h('button', { type: 'button', class: 'danger', 'data-testid': 'purge-confirm' }, 'Purge entries');
    const cancel = h('button', { type: 'button', 'data-testid': 'purge-cancel' }, 'Cancel');
    const dialog = h('dialog', { 'data-testid': 'purge-dialog', 'aria-labelledby': 'purge-title' },
      question,
      h('p', {}, 'The matching entries are deleted on every node sharing the store. The next requests for them go to the integration.'),
      h('div', { class: 'actions' }, cancel, confirm));
    const describeKind = () => {
      const k = PURGE_KINDS[kind.value];
      valueLabel.textContent = k.label;
      value.placeholder = k.placeholder;
      hint.textContent = k.hint;
    };
    describeKind();
    kind.addEventListener('change', describeKind);

    // What the confirmation was opened for: the form may change while it is open.
    let pending;
    const form = h('form', { class: 'inline purge', novalidate: true, onsubmit: (event) => {
      event.preventDefault();
      const text = value.value.trim();
      const k = PURGE_KINDS[kind.value];
      if (!text) return replace(status, notice('error', `Enter a ${k.label.toLowerCase()} to purge.`, 'purge-error'));
      pending = { kind: kind.value, value: text };
      question.textContent = `Purge the ${stageName} entries ${k.subject(text)}?`;
      dialog.showModal();
    } }, kind, valueLabel, value, purge);
    cancel.addEventListener('click', () => {
      dialog.close();
      replace(status, notice('info', 'Purge cancelled.'));
    });
    confirm.addEventListener('click', async () => {
      const { kind: chosen, value: text } = pending;
      confirm.disabled = true;
      purge.disabled = true;
      replace(status, notice('info', `Purging entries ${PURGE_KINDS[chosen].subject(text)}…`));
      try {
        const answer = chosen === 'tag'
          ? await api.purgeCacheTag(restApiId, stageName, text)
          : await api.purgeCachePaths(restApiId, stageName, text);
        dialog.close();
        const purged = Number(answer?.purged ?? 0);
        replace(status, notice('ok', `Purged ${formatCount(purged)} ${purged === 1 ? 'entry' : 'entries'} ${PURGE_KINDS[chosen].subject(text)}.`, 'purge-ok'));
        void refreshStats(false);
      } catch (error) {
        dialog.close();
        replace(status, notice('error', String(error), 'purge-error'));
        onApiError(error);
      } finally {
        confirm.disabled = false;
        purge.disabled = false;
      }
    });
    return { element: h('div', { class: 'purge-zone' }, h('h3', {}, 'Purge entries'), h('p', { class: 'muted' }, 'Deletes only the entries with a tag or under a path (cachegate extension).'), form, hint, dialog, status) };
  }

  // ---- Live counters ----

  function countersPanel() {
    const cell = (label, testId) => {
      const value = h('div', { class: 'value', 'data-testid': testId }, '—');
      return { value, element: h('div', { class: 'counter' }, h('div', { class: 'label' }, label), value) };
    };
    const cells = {
      entries: cell('Entries', 'stat-entries'), bytes: cell('Bytes used / budget', 'stat-bytes'), ratio: cell('Hit ratio', 'stat-hit-ratio'),
      hits: cell('Cache hits', 'stat-hits'), misses: cell('Cache misses', 'stat-misses'), hitRate: cell('Hits/s', 'stat-hit-rate'),
      missRate: cell('Misses/s', 'stat-miss-rate'), evictions: cell('Evictions', 'stat-evictions'),
      cachedP50: cell('Cached p50 / p99', 'stat-cached-latency'), forwardedP50: cell('Integration p50 / p99', 'stat-forwarded-latency'),
    };
    return {
      element: h('section', { class: 'counters', 'aria-live': 'off' }, Object.values(cells).map((c) => c.element)),
      entries: () => cells.entries.value.textContent,
      update(sample, rates) {
        cells.entries.value.textContent = formatCount(sample.entries);
        replace(cells.bytes.value, sample.cacheClusterEnabled ? usageBar(sample.bytes, sample.capacityBytes) : '—');
        cells.ratio.value.textContent = formatRatio(hitRatio(sample.hits, sample.misses));
        cells.hits.value.textContent = formatCount(sample.hits);
        cells.misses.value.textContent = formatCount(sample.misses);
        cells.evictions.value.textContent = formatCount(sample.evictions);
        if (rates) {
          cells.hitRate.value.textContent = formatRate(rates.hits);
          cells.missRate.value.textContent = formatRate(rates.misses);
        }
        const { cached, forwarded } = sample.latency;
        cells.cachedP50.value.textContent = `${formatSeconds(cached.p50)} / ${formatSeconds(cached.p99)}`;
        cells.forwardedP50.value.textContent = `${formatSeconds(forwarded.p50)} / ${formatSeconds(forwarded.p99)}`;
      },
    };
  }

  async function refreshStats(schedule = true) {
    try {
      const stats = await api.stats();
      if (stopped) return;
      const sample = stats.stages.find((s) => s.restApiId === restApiId && s.stageName === stageName);
      if (sample) {
        charts ??= stageCharts(chartBoxes);
        const rates = charts.push(stats.time, sample);
        counters.update(sample, rates);
      }
      replace(pageStatus);
    } catch (error) {
      if (!stopped) replace(pageStatus, notice('error', `Live counters unavailable: ${error}`, 'stats-error'));
      onApiError(error);
    } finally {
      if (schedule && !stopped) timer = setTimeout(refreshStats, REFRESH_MS);
    }
  }

  // ---- Shared plumbing ----

  /** Sends patch operations; shows the answer (or the API's error) inline next to the form. */
  async function submit(button, status, operations, success) {
    button.disabled = true;
    replace(status, notice('info', 'Saving…'));
    try {
      const updated = await api.updateStage(restApiId, stageName, operations);
      show(updated);
      // show() rebuilt the forms: report in the new status element of the same section.
      const fresh = document.querySelector(`[data-testid="${status.dataset.testid}"]`) ?? status;
      replace(fresh, notice('ok', success, 'save-ok'));
    } catch (error) {
      replace(status, notice('error', String(error), 'api-error'));
      onApiError(error);
    } finally {
      button.disabled = false;
    }
  }

  Promise.all([api.getStage(restApiId, stageName), api.getResources(restApiId)]).then(([loaded, resourceList]) => {
    if (stopped) return;
    resources = resourceList.item ?? [];
    title.textContent = `${restApiId} / ${stageName}`;
    show(loaded);
    void refreshStats();
  }, (error) => {
    if (stopped) return;
    replace(settingsBox, notice('error', String(error), 'load-error'));
    onApiError(error);
  });

  return () => {
    stopped = true;
    clearTimeout(timer);
    charts?.destroy();
  };
}

function pick(setting) {
  const own = {};
  for (const field of Object.keys(DEFAULTS)) if (setting?.[field] !== undefined && setting[field] !== null) own[field] = setting[field];
  return own;
}

/** Patch operations for the fields of `key` whose new value differs from the shown one. */
function settingOps(key, shown, values) {
  const operations = [];
  for (const [field, value] of Object.entries(values)) {
    if (String(value) === String(shown[field])) continue;
    operations.push(replaceOp(`${methodSettingPath(key)}/caching/${PATCH_NAMES[field]}`, value));
  }
  return operations;
}

// AWS patch values are strings, booleans included.
function replaceOp(path, value) {
  return { op: 'replace', path, value: String(value) };
}

function describe(operations) {
  return operations.map((o) => `${o.path.replaceAll('~1', '/')} = ${o.value}`).join(', ');
}

function strategySelect(id, current, testId) {
  return h('select', { id, 'data-testid': testId, 'aria-label': id ? undefined : 'Unauthorized strategy' }, STRATEGIES.map((s) => h('option', { value: s, selected: s === current }, s)));
}

function row(input, label, hint) {
  return h('div', { class: 'check' }, input, h('label', { for: input.id }, label), hint ? h('small', { class: 'hint' }, hint) : null);
}

function field(id, label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ?? null);
}
