// Builds truthgate's Argo CD UI extension with esbuild.
//
//   node build.mjs            -> dist/extension-truthgate.js (what argocd-server loads)
//   node build.mjs --package  -> also dist/extension-truthgate.tar (resources/truthgate/...,
//                                the layout Argo CD's extension installer unpacks) and its
//                                sha256 checksum file for EXTENSION_CHECKSUM_URL
//   node build.mjs --harness  -> test/build/host.js (React 19 + a stand-in extensionsAPI, for
//                                the browser tests only; never shipped)
//
// The extension must use the host's React: Argo CD exposes window.React, window.ReactDOM and
// (since 3.5, React 19) window.ReactJSXRuntime. Imports of react, react-dom and
// react/jsx-runtime are therefore resolved to those globals instead of being bundled.
import * as esbuild from "esbuild";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const HOST_GLOBALS = {
  react: "React",
  "react-dom": "ReactDOM",
  "react/jsx-runtime": "ReactJSXRuntime",
};

const hostReact = {
  name: "host-react",
  setup(build) {
    const filter = /^(react|react-dom|react\/jsx-runtime)$/;
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: "host-global" }));
    build.onLoad({ filter: /.*/, namespace: "host-global" }, (args) => ({
      contents: `module.exports = window.${HOST_GLOBALS[args.path]};`,
      loader: "js",
    }));
  },
};

const args = new Set(process.argv.slice(2));

if (args.has("--harness")) {
  await esbuild.build({
    entryPoints: ["test/host.jsx"],
    outfile: "test/build/host.js",
    bundle: true,
    format: "iife",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
} else {
  rmSync("dist", { recursive: true, force: true });
  await esbuild.build({
    entryPoints: ["src/index.jsx"],
    outfile: "dist/extension-truthgate.js",
    bundle: true,
    format: "iife",
    jsx: "automatic",
    target: ["es2020"],
    minify: true,
    legalComments: "none",
    plugins: [hostReact],
    logLevel: "warning",
  });
  if (args.has("--package")) {
    mkdirSync("dist/resources/truthgate", { recursive: true });
    execFileSync("cp", ["dist/extension-truthgate.js", "dist/resources/truthgate/"]);
    execFileSync("tar", ["-C", "dist", "-cf", "dist/extension-truthgate.tar", "resources"]);
    const sum = createHash("sha256").update(readFileSync("dist/extension-truthgate.tar")).digest("hex");
    writeFileSync("dist/extension-truthgate.tar.sha256", `${sum}  extension-truthgate.tar\n`);
  }
}
