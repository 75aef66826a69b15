// Runs one read-API call per change of `key`; an answer arriving after unmount is dropped.
import { useEffect, useState } from "react";

export function useRead(key, load) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ loading: true, data: null, error: null });
    load().then(
      (data) => live && setState({ loading: false, data, error: null }),
      (error) => live && setState({ loading: false, data: null, error: error?.message || String(error) }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state;
}

export function ReadError({ error }) {
  return (
    <div data-testid="read-error" style={{ color: "#c3424c", margin: "8px 0" }}>
      truthgate's read API did not answer ({error}). The verdict above is from Argo CD and stays
      current; details need the truthgate server.
    </div>
  );
}
