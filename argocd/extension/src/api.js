// The read API, reached only through Argo CD's proxy extension (/extensions/truthgate/...).
// Argo CD authenticates the request from the session cookie and authorises it from the two
// Argocd-* headers; truthgate answers only for the application named there.
const BASE = "/extensions/truthgate/api/v1/apps";
const TIMEOUT_MS = 10000;

export const NOT_TRUTHGATE = "the answer was not truthgate's JSON";

// `status`: the HTTP status (0: no answer); `byTruthgate`: the refusal is truthgate's own (its
// JSON error), not Argo CD's (plain text) or a gateway's.
export class ReadApiError extends Error {
  constructor(message, status, byTruthgate = false) {
    super(message);
    this.status = status;
    this.byTruthgate = byTruthgate;
  }
}

// What the read API is asked for: a change of any of these is another request.
export function appKey(application) {
  const meta = application?.metadata || {};
  return `${meta.namespace || "argocd"}:${meta.name || ""}:${application?.spec?.project || "default"}`;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isPage = (b) => Array.isArray(b.items) && b.items.every(isObject);

export function readApi(application) {
  const meta = application?.metadata || {};
  const name = meta.name || "";
  const headers = {
    "Argocd-Application-Name": `${meta.namespace || "argocd"}:${name}`,
    "Argocd-Project-Name": application?.spec?.project || "default",
  };
  // One bound for the whole exchange, the body included: a proxy that sends headers and then
  // stalls must not leave the panel loading forever.
  // `shape` checks the body is the answer asked for: another JSON (a proxy routed elsewhere, an
  // error page as JSON) is said to be so instead of breaking the panel.
  const get = async (path, shape) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
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
      }
      let text = "";
      try {
        text = await response.text();
      } catch (e) {
        throw new ReadApiError(e?.name === "AbortError" ? "no answer within 10 s" : "the answer was cut off", 0);
      }
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      if (!response.ok) {
        const ours = body !== null && typeof body.error === "string";
        const plain = (response.headers.get("content-type") || "").startsWith("text/plain");
        const said = ours ? body.error : plain && text.trim() ? text.trim().slice(0, 200) : response.statusText;
        throw new ReadApiError(`${response.status}: ${said || "no details"}`, response.status, ours);
      }
      if (!isObject(body) || !shape(body)) throw new ReadApiError(NOT_TRUTHGATE, 0);
      return body;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    // `truthCheck` ({namespace, name}): only that TruthCheck's verifications.
    verifications: (limit = 20, truthCheck = null) =>
      get(
        `/verifications?limit=${limit}${
          truthCheck ? `&truthCheck=${encodeURIComponent(`${truthCheck.namespace}/${truthCheck.name}`)}` : ""
        }`,
        isPage,
      ),
    intents: (limit = 50) => get(`/intents?limit=${limit}`, isPage),
    evidence: (id) => get(`/verifications/${Number(id)}/evidence`, (b) => isObject(b.evidence)),
  };
}
