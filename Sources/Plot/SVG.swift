import Foundation

/// Small helpers to write SVG text by hand: numbers with one decimal (pixel coordinates),
/// XML escaping and the document wrapper. Everything the plots emit is plain SVG 1.1 with no
/// scripts, external fonts or links, so a file or an HTML page embedding it stays self-contained.
public enum SVG {
    /// A coordinate with one decimal (`12.3`); enough for screen and print.
    public static func n(_ v: Double) -> String { String(format: "%.1f", v.isFinite ? v : 0) }

    /// `"12.3"`, quoted for an attribute.
    public static func q(_ v: Double) -> String { "\"\(n(v))\"" }

    /// Text safe inside an element or a double-quoted attribute.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A whole SVG document of `width` × `height` pixels on a white background.
    public static func document(width: Double, height: Double, _ body: [String]) -> String {
        (["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\(q(width)) height=\(q(height)) viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"12\">",
          "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"] + body + ["</svg>"]).joined(separator: "\n") + "\n"
    }

    /// A text element; `anchor` is `start`, `middle` or `end`.
    public static func text(_ s: String, x: Double, y: Double, anchor: String = "start", size: Double? = nil,
                            extra: String = "") -> String {
        let a = anchor == "start" ? "" : " text-anchor=\"\(anchor)\""
        let f = size.map { " font-size=\(q($0))" } ?? ""
        return "<text x=\(q(x)) y=\(q(y))\(a)\(f)\(extra)>\(escape(s))</text>"
    }

    /// Approximate width of `s` in pixels at `size` (sans-serif averages about 0.6 em per
    /// character); used to size legends and margins without measuring fonts.
    public static func textWidth(_ s: String, size: Double = 12) -> Double { Double(s.count) * size * 0.6 }
}
