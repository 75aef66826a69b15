// Fetches the scenario the test server prepared and mounts the registered extensions.
fetch("/harness/scenario.json")
  .then((r) => r.json())
  .then((scenario) => window.truthgateHarness.render(scenario));
