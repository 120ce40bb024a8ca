import Foundation
import Plot
import XCTest

/// Ticks are 1/2/5 × 10^k steps with clean labels; legends sit inside their frame.
final class PlotTests: XCTestCase {
    func testLinearTicksAreRound() {
        let t = Ticks.linear(0, 45)
        XCTAssertEqual(t.step, 10)
        XCTAssertEqual(t.values, [0, 10, 20, 30, 40, 50])
        XCTAssertEqual(Ticks.linear(0, 0.37).values.map(Ticks.linear(0, 0.37).label), ["0", "0.1", "0.2", "0.3", "0.4"])
        XCTAssertEqual(Ticks.linear(1, 3, integer: true).values, [1, 2, 3])
        XCTAssertEqual(Ticks.linear(0, 0.37, target: 8).values.map(Ticks.linear(0, 0.37, target: 8).label), ["0", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30", "0.35", "0.40"])
        XCTAssertEqual(Ticks.linear(2.3, 2.3).values.count > 1, true)
        // Every step of many ranges is 1, 2 or 5 × 10^k.
        for (lo, hi) in [(0.0, 11.25), (-3.0, 7.0), (0.001, 0.0042), (12.0, 4000.0), (0, 1e7)] {
            let s = Ticks.linear(lo, hi).step
            let m = s / pow(10, floor(log10(s)))
            XCTAssertTrue([1, 2, 5].contains { abs($0 - m) < 1e-9 }, "\(lo)...\(hi): step \(s)")
            XCTAssertLessThanOrEqual(Ticks.linear(lo, hi).lo, lo); XCTAssertGreaterThanOrEqual(Ticks.linear(lo, hi).hi, hi)
        }
        XCTAssertEqual(Ticks.linear(0, 1e7).label(5e6), "5e6")
    }

    func testLogTicks() {
        let t = Ticks.log(0.01, 1)
        XCTAssertEqual(t.values, [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1])
        XCTAssertEqual(t.values.map(t.label), ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"])
        XCTAssertEqual(Ticks.log(1e-5, 10).values, [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10])
    }

    func testLegendInsideFrameAndAvoidsData() {
        // Data in the top-right corner: the legend goes elsewhere, inside the frame.
        let p = Panel(x: Axis("x"), y: Axis("y"), marks: [.points("data", color: "#000", x: [9, 9.5, 10], y: [9, 9.5, 10]),
                                                            .line("line", color: "#f00", x: [0, 10], y: [0, 0.5])])
        let svg = p.svg()
        let f = p.frame(p.ticks())
        let legend = svg.components(separatedBy: "\n").first { $0.contains("fill-opacity=\"0.88\"") }!
        func attr(_ name: String) -> Double { Double(legend.components(separatedBy: "\(name)=\"")[1].components(separatedBy: "\"")[0])! }
        XCTAssertGreaterThanOrEqual(attr("x"), f.x0); XCTAssertLessThanOrEqual(attr("x") + attr("width"), f.x1)
        XCTAssertGreaterThanOrEqual(attr("y"), f.y0); XCTAssertLessThanOrEqual(attr("y") + attr("height"), f.y1)
        XCTAssertLessThan(attr("y"), (f.y0 + f.y1) / 2, "top half")
        XCTAssertLessThan(attr("x"), (f.x0 + f.x1) / 2, "left: the data is top right")
        XCTAssertFalse(svg.contains("11.25"))
    }

    func testHistogramBinsAreRoundAndShared() {
        let h = Histogram.bins([[0.13, 0.5, 0.97], [0.2]], target: 10)
        XCTAssertEqual(h.counts.map { $0.reduce(0, +) }, [3, 1])
        let step = h.edges[1] - h.edges[0]
        XCTAssertEqual(step, 0.1, accuracy: 1e-12)
        let steps = Histogram.bins([[0, 1, 1, 3]], integer: true)
        XCTAssertEqual(steps.edges.first, -0.5)
        XCTAssertEqual(steps.counts[0], [1, 2, 0, 1])
    }
}
