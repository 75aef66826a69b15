// A stand-in for Argo CD's UI, for the browser tests only: React 19 exposed the way Argo CD 3.5
// exposes it (window.React, window.ReactDOM, window.ReactJSXRuntime), and an extensionsAPI
// with the register* functions of Argo CD's extensions-service.ts, passing the props it passes:
// a resource tab gets {application, resource: the live object, tree}, the Application's tab
// {application, resource: the application, tree}, a status panel item {application,
// openFlyout}, its flyout {application, tree}. After the extension script has registered, the
// test page calls truthgateHarness.render(scenario) to mount what Argo CD would mount where it
// would: the status panel item (whose click opens its flyout), the resource tab for the
// TruthCheck and the Application tab.
import * as React from "react";
import * as ReactDOM from "react-dom";
import { createRoot } from "react-dom/client";
import * as JSXRuntime from "react/jsx-runtime";

window.React = React;
window.ReactDOM = { ...ReactDOM, createRoot };
window.ReactJSXRuntime = JSXRuntime;

const registry = { statusPanel: [], resource: [], appView: [], other: [] };

window.extensionsAPI = {
  registerStatusPanelExtension: (component, title, id, flyout) =>
    registry.statusPanel.push({ component, title, id, flyout }),
  registerResourceExtension: (component, group, kind, tabTitle, opts) =>
    registry.resource.push({ component, group, kind, tabTitle, opts }),
  registerAppViewExtension: (component, title, icon) => registry.appView.push({ component, title, icon }),
  registerSystemLevelExtension: (...args) => registry.other.push(args),
  registerTopBarActionMenuExt: (...args) => registry.other.push(args),
};

// Argo CD wraps each resource tab (the Application's too) in an error boundary: an extension that throws shows a line of
// text instead of blanking the page (resource-details.tsx).
class ErrorBoundary extends React.Component {
  constructor(props) {
    super(props);
    this.state = { failed: false };
  }
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    return this.state.failed ? <div data-testid="extension-crashed">{this.props.message}</div> : this.props.children;
  }
}

// Argo CD matches group and kind as globs ("**" also matches the empty core group).
function glob(pattern, value) {
  if (pattern === "**") return true;
  const re = new RegExp("^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*") + "$");
  return re.test(value || "");
}

function Harness({ scenario }) {
  const [flyout, setFlyout] = React.useState(null);
  const app = scenario.application;
  // As ExtensionsService.getResourceTabs: the matching tabs, sorted by title.
  const tabsFor = (group, kind) =>
    registry.resource.filter((r) => glob(r.group, group) && glob(r.kind, kind)).sort((a, b) => a.tabTitle.localeCompare(b.tabTitle));
  return (
    <div>
      <section id="status-panel" style={{ display: "flex", gap: 24, padding: 12, borderBottom: "1px solid #dee6eb" }}>
        {registry.statusPanel.map((s) => (
          <div key={s.id} data-extension={s.id}>
            <div style={{ fontSize: 11, color: "#6d7f8b", textTransform: "uppercase" }}>{s.title}</div>
            <s.component application={app} openFlyout={() => setFlyout(s.id)} />
          </div>
        ))}
      </section>
      {flyout ? (
        <section id="flyout" style={{ borderLeft: "4px solid #0dadea", margin: 12 }}>
          {registry.statusPanel.filter((s) => s.id === flyout && s.flyout).map((s) => (
            <s.flyout key={s.id} application={app} tree={scenario.tree} />
          ))}
        </section>
      ) : null}
      {/* Argo CD adds extension tabs only when it could read the resource's live state. */}
      {scenario.truthCheck
        ? tabsFor("truthgate.dev", "TruthCheck").map((t) => (
            <section key={t.tabTitle} id="resource-tab" data-tab={t.tabTitle} style={{ margin: 12, border: "1px solid #dee6eb" }}>
              <ErrorBoundary message="Something went wrong with Extension for TruthCheck">
                <t.component application={app} resource={scenario.truthCheck} tree={scenario.tree} />
              </ErrorBoundary>
            </section>
          ))
        : null}
      {tabsFor("argoproj.io", "Application").map((t) => (
        <section key={t.tabTitle} id="app-tab" data-tab={t.tabTitle} style={{ margin: 12, border: "1px solid #dee6eb" }}>
          <ErrorBoundary message="Something went wrong with Extension for Application">
            <t.component application={app} resource={app} tree={scenario.tree} />
          </ErrorBoundary>
        </section>
      ))}
    </div>
  );
}

window.truthgateHarness = {
  registry,
  registrations: () => ({
    statusPanel: registry.statusPanel.map((s) => ({ title: s.title, id: s.id, flyout: !!s.flyout })),
    resource: registry.resource.map((r) => ({ group: r.group, kind: r.kind, tabTitle: r.tabTitle })),
  }),
  render: (scenario) => createRoot(document.getElementById("root")).render(<Harness scenario={scenario} />),
};
