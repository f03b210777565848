// The party graph around a distributor: Cytoscape.js (vendored under /static/vendor), leaks in red.
(function () {
  "use strict";
  const box = document.getElementById("graph");
  const data = document.getElementById("graph-data");
  if (!box || !data || !window.cytoscape) return;
  const cy = window.cytoscape({
    container: box,
    elements: JSON.parse(data.textContent),
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 9, "text-wrap": "wrap", "text-valign": "bottom",
        "background-color": "#6b7280", width: 14, height: 14, color: "#1d2330" } },
      { selector: "node.distributor", style: { "background-color": "#0b6bcb", width: 22, height: 22 } },
      { selector: "node.plant, node.brand, node.warehouse", style: { "background-color": "#127a3e", shape: "round-rectangle", width: 22, height: 22 } },
      { selector: "node.focus", style: { "border-width": 4, "border-color": "#12263f", width: 30, height: 30 } },
      { selector: "node.leak", style: { "background-color": "#b42318", width: 20, height: 20 } },
      { selector: "edge", style: { width: "mapData(units, 1, 60, 1, 6)", "line-color": "#c3cad5", "curve-style": "bezier",
        "target-arrow-shape": "triangle", "target-arrow-color": "#c3cad5", label: "data(label)", "font-size": 8 } },
      { selector: "edge.leak", style: { "line-color": "#b42318", "target-arrow-color": "#b42318", width: 3 } },
    ],
    // Goods flow top-down: brand-owned parties, then the distributor, then where its goods went.
    layout: { name: "breadthfirst", directed: true, spacingFactor: 1.2, animate: false,
      roots: "node.plant, node.brand, node.warehouse" },
  });
  box.dataset.nodes = String(cy.nodes().length);
  box.dataset.leaks = String(cy.nodes(".leak").length);
})();
