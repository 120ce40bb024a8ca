import Foundation
import Plot

/// The training curves as a self-contained SVG (no scripts, no external fonts): two panels
/// over epochs, the loss terms (total, CE, KD, KD on BSS) and the accuracies (train, val),
/// drawn with the shared `Plot` module (round ticks, legends inside the frame). Series that are
/// all zero (KD for `original`, KD_BSS for `hinton`) or absent (val without validation data)
/// are left out; KD on BSS is drawn only for epochs that used BSS (none once beta reaches 0).
public enum CurvesPlot {
    static let width = 760.0, panelHeight = 270.0

    /// The loss and accuracy panels of `history`.
    public static func panels(_ history: [EpochMetrics]) -> (loss: Panel, accuracy: Panel) {
        let e = history.map { Double($0.epoch) }
        func series(_ name: String, _ color: String, _ f: (EpochMetrics) -> Double?, dashed: Bool = false) -> Mark? {
            let pts = zip(e, history).compactMap { x, m in f(m).map { (x, $0) } }
            guard !pts.isEmpty, pts.contains(where: { $0.1 != 0 }) else { return nil }
            return .line(name, color: color, x: pts.map(\.0), y: pts.map(\.1), dashed: dashed, dots: pts.count <= 30)
        }
        let losses = [series("loss (total)", "#222222", { $0.loss }), series("CE", "#1f77b4", { $0.ce }),
                      series("KD", "#ff7f0e", { $0.kd }),
                      series("KD on BSS", "#2ca02c", { $0.bssUsed > 0 ? $0.kdBSS : nil })].compactMap { $0 }
        let accuracies = [series("train accuracy", "#1f77b4", { $0.trainAccuracy }),
                          series("val accuracy", "#d62728", { $0.valAccuracy })].compactMap { $0 }
        let epoch = Axis("epoch", integer: true)
        var loss = Panel(x: epoch, y: Axis("loss (nats per sample)", includeZero: true), marks: losses, width: width, height: panelHeight)
        var accuracy = Panel(x: epoch, y: Axis("accuracy (fraction correct)", min: 0, max: 1), marks: accuracies,
                             width: width, height: panelHeight)
        if history.isEmpty { loss.note = "no epoch yet"; accuracy.note = "no epoch yet" }
        accuracy.legend = .bottomRight
        return (loss, accuracy)
    }

    public static func svg(_ history: [EpochMetrics], title: String) -> String {
        let p = panels(history)
        let body = [SVG.text(title, x: width / 2, y: 18, anchor: "middle", size: 14)]
            + p.loss.elements(at: 0, 24) + p.accuracy.elements(at: 0, 24 + panelHeight + 6)
        return SVG.document(width: width, height: 2 * panelHeight + 36, body)
    }

    public static func write(_ history: [EpochMetrics], title: String, to url: URL) throws {
        try writeText(svg(history, title: title), to: url)
    }
}
