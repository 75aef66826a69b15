// The read API, reached only through Argo CD's proxy extension (/extensions/truthgate/...).
// Argo CD authenticates the request from the session cookie and authorises it from the two
// Argocd-* headers; truthgate answers only for the application named there.
const BASE = "/extensions/truthgate/api/v1/apps";
const TIMEOUT_MS = 10000;

export class ReadApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export function readApi(application) {
  const meta = application?.metadata || {};
  const name = meta.name || "";
  const headers = {
    "Argocd-Application-Name": `${meta.namespace || "argocd"}:${name}`,
    "Argocd-Project-Name": application?.spec?.project || "default",
  };
  const get = async (path) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(`${BASE}/${encodeURIComponent(name)}${path}`, {
        headers,
        credentials: "same-origin",
        signal: controller.signal,
      });
    } catch (e) {
      throw new ReadApiError(
        e?.name === "AbortError" ? "no answer within 10 s" : "the request did not reach Argo CD",
        0,
      );
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const said = body && typeof body.error === "string" ? body.error : response.statusText;
      throw new ReadApiError(`${response.status}: ${said || "no details"}`, response.status);
    }
    return body;
  };
  return {
    verifications: (limit = 20) => get(`/verifications?limit=${limit}`),
    intents: (limit = 50) => get(`/intents?limit=${limit}`),
    evidence: (id) => get(`/verifications/${Number(id)}/evidence`),
  };
}
