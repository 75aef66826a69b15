// Runs one read-API call per change of `key`; an answer arriving after unmount is dropped.
import { useEffect, useState } from "react";
import { NOT_TRUTHGATE } from "./api.js";

export function useRead(key, load) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ loading: true, data: null, error: null });
    load().then(
      (data) => live && setState({ loading: false, data, error: null }),
      (error) => live && setState({ loading: false, data: null, error: { message: error?.message || String(error), status: error?.status || 0, byTruthgate: !!error?.byTruthgate } }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state;
}

// What failed, in the user's terms: Argo CD not forwarding the request (its plain 401: session,
// RBAC, or an application it no longer has) is not truthgate refusing it, nor truthgate down.
// The brackets hold the status and what was said.
function explain({ message, status, byTruthgate }) {
  if (status === 401 && !byTruthgate) {
    return `Argo CD did not pass the request on (${message}): it needs you signed in, allowed "extensions, invoke, truthgate" and this application, and the application to still exist.`;
  }
  if (status === 401 && byTruthgate) {
    return `truthgate refused the request Argo CD passed on (${message}): the proxy extension's configuration and truthgate's read API token must match (see truthgate's install guide).`;
  }
  if (status === 403 && byTruthgate) {
    return `truthgate refused the request Argo CD passed on (${message}): it answers only for the application Argo CD names in Argocd-Application-Name.`;
  }
  if (status === 403) return `The request was refused on its way to truthgate (${message}): a proxy in front of Argo CD or truthgate denied it.`;
  if (status === 404) return `truthgate's read API is not enabled or not routed (${message}).`;
  if (message === NOT_TRUTHGATE) {
    return `Something other than truthgate's read API answered (${message}): Argo CD's proxy extensions must be on (server.enable.proxy.extension) and extension.config.truthgate must route to the truthgate service.`;
  }
  return `truthgate's read API did not answer (${message}).`;
}

export function ReadError({ error }) {
  return (
    <div data-testid="read-error" style={{ color: "#c3424c", margin: "8px 0", overflowWrap: "anywhere" }}>
      {explain(error)} The verdict Argo CD shows stays current; the details need truthgate's read API.
    </div>
  );
}
