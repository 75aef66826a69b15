// truthgate's Argo CD UI extension: registers with the host's extensionsAPI (see
// docs/ui.md). React, ReactDOM and the JSX runtime are the host's (build.mjs).
import { GROUP, KIND } from "./model.js";
import { AppTab, Flyout, StatusPanel, TruthCheckTab } from "./panels.jsx";

((window) => {
  const ext = window.extensionsAPI;
  if (!ext) return;
  ext.registerStatusPanelExtension(StatusPanel, "TRUTH", "truthgate", Flyout);
  ext.registerResourceExtension(TruthCheckTab, GROUP, KIND, "Truth", { icon: "fa-balance-scale" });
  ext.registerResourceExtension(AppTab, "argoproj.io", "Application", "Truth timeline", {
    icon: "fa-stream",
  });
})(window);
