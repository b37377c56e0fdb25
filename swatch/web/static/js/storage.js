// The page's remembered choices (model, versions, weight, ...) in localStorage under "swatch.".

export const storage = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem("swatch." + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch { return fallback; }
  },
  set(key, value) {
    try { localStorage.setItem("swatch." + key, JSON.stringify(value)); } catch { /* private mode */ }
  },
};
