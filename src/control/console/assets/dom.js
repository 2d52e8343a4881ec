// Tiny DOM helpers. Text always goes through textContent, never innerHTML: API names, stage
// names and error messages are data, not markup.

/**
 * h('button', { class: 'primary', onclick: fn, 'data-testid': 'save' }, 'Save')
 * Attributes starting with "on" become listeners; false/null/undefined attributes are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'checked' || name === 'value' || name === 'disabled' || name === 'selected') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** An inline message box: kind is 'error', 'ok' or 'info'. Errors are announced to screen readers. */
export function notice(kind, text, testId) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testId }, text);
}
