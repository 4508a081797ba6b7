// Small page helpers shared by the demo's batch and live modes.

/** A message in `el`, styled as an error or as a success (or neither). */
export function say(el, text, kind) {
  el.textContent = text;
  el.classList.toggle('error', kind === 'error');
  el.classList.toggle('ok', kind === 'ok');
}

let nextId = 0;
/** Posts `message` to worker `w` and resolves with its reply (rejects with its error). */
export function ask(w, message) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (event) => {
      if (event.data.id !== id) return;
      w.removeEventListener('message', onMessage);
      if (event.data.error) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    w.addEventListener('message', onMessage);
    w.addEventListener('error', (e) => reject(new Error(e.message)), { once: true });
    w.postMessage({ ...message, id });
  });
}
