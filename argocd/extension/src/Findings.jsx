// Findings grouped by layer, then severity; each names its object, linked into the app tree.
import { COLORS, WRAP, describeRef, groupFindings, nodeLink } from "./model.js";

export function Findings({ application, findings, total }) {
  const groups = groupFindings(findings);
  if (!groups.length) {
    return <div data-testid="no-findings">No findings: declared, controller, runtime and behaviour agree.</div>;
  }
  return (
    <div data-testid="findings" style={WRAP}>
      {total && total > (findings || []).length ? (
        <div style={{ color: "#6d7f8b" }}>Showing the {findings.length} most severe of {total} findings.</div>
      ) : null}
      {groups.map((g) => (
        <section key={g.layer} data-testid={`layer-${g.layer}`} style={{ marginTop: 12 }}>
          <h4 style={{ margin: "4px 0", textTransform: "capitalize" }}>
            {g.layer} <span style={{ color: "#6d7f8b", fontWeight: "normal" }}>({g.count})</span>
          </h4>
          {g.bySeverity.map((s) => (
            <ul key={s.severity} style={{ listStyle: "none", paddingLeft: 0, margin: 0 }}>
              {s.findings.map((f, i) => {
                const href = nodeLink(application, f.resource);
                const name = describeRef(f.resource);
                return (
                  <li key={i} data-testid="finding" style={{ padding: "4px 0", borderBottom: "1px solid #eff3f5", ...WRAP }}>
                    <span style={{ background: COLORS[s.severity], color: "#fff", borderRadius: 3, padding: "0 6px", fontSize: 11, marginRight: 6 }}>
                      {s.severity}
                    </span>
                    {name ? href ? <a href={href} style={{ marginRight: 6 }}>{name}</a> : <strong style={{ marginRight: 6 }}>{name}</strong> : null}
                    <span>{f.message}</span>
                    <span style={{ color: "#8fa4b1", marginLeft: 6, fontSize: 11 }}>{f.check}</span>
                  </li>
                );
              })}
            </ul>
          ))}
        </section>
      ))}
    </div>
  );
}
