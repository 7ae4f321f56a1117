import { describe, expect, it } from "vitest";
import { layoutGraph, nodeWidth } from "./graphLayout";

describe("layoutGraph", () => {
  it("places a chain left to right, each node after the one it depends on", () => {
    const layout = layoutGraph(
      [
        { id: "load", label: "load" },
        { id: "features", label: "features" },
        { id: "train", label: "train" },
      ],
      [
        { from: "load", to: "features" },
        { from: "features", to: "train" },
      ],
    );
    const x = Object.fromEntries(layout.nodes.map((n) => [n.id, n.x]));
    expect(x.load).toBeLessThan(x.features);
    expect(x.features).toBeLessThan(x.train);
    expect(layout.edges).toHaveLength(2);
    expect(layout.edges[0].points.length).toBeGreaterThanOrEqual(2);
    expect(layout.width).toBeGreaterThan(0);
  });

  it("drops edges to unknown nodes, self-loops and duplicate nodes", () => {
    const layout = layoutGraph(
      [
        { id: "a", label: "a" },
        { id: "a", label: "again" },
      ],
      [
        { from: "a", to: "ghost" },
        { from: "a", to: "a" },
      ],
    );
    expect(layout.nodes).toHaveLength(1);
    expect(layout.edges).toHaveLength(0);
  });

  it("keeps parallel branches apart", () => {
    const layout = layoutGraph(
      [{ id: "src", label: "src" }, { id: "b1", label: "b1" }, { id: "b2", label: "b2" }],
      [{ from: "src", to: "b1" }, { from: "src", to: "b2" }],
    );
    const [b1, b2] = ["b1", "b2"].map((id) => layout.nodes.find((n) => n.id === id)!);
    expect(b1.x).toBe(b2.x);
    expect(Math.abs(b1.y - b2.y)).toBeGreaterThanOrEqual(46);
  });

  it("sizes nodes to their text within bounds", () => {
    expect(nodeWidth({ id: "x", label: "x" })).toBe(110);
    expect(nodeWidth({ id: "x", label: "x".repeat(500) })).toBe(280);
  });

  it("keeps every node and edge point inside the reported box", () => {
    const nodes = ["a", "b", "c", "d", "e", "f"].map((id) => ({ id, label: id }));
    const edges = [
      { from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "d" },
      { from: "a", to: "d" }, { from: "a", to: "e" }, { from: "e", to: "f" }, { from: "a", to: "f" },
    ];
    const layout = layoutGraph(nodes, edges);
    for (const n of layout.nodes) {
      expect(n.x - n.width / 2).toBeGreaterThanOrEqual(0);
      expect(n.y - n.height / 2).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width / 2).toBeLessThanOrEqual(layout.width);
      expect(n.y + n.height / 2).toBeLessThanOrEqual(layout.height);
    }
    for (const p of layout.edges.flatMap((e) => e.points)) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThanOrEqual(layout.width);
      expect(p.y).toBeLessThanOrEqual(layout.height);
    }
  });
});
