import Foundation
import Plot

/// Samples as inline PNG images. Image samples are `[C, H, W]` (engine layout) with C = 1
/// (grey) or 3 (RGB); values map linearly from a shared range `lo...hi` to 0…255, so every
/// image of a grid is on the same scale. Perturbations use the blue–white–red diverging map
/// at a shared symmetric range `±s` (for RGB, the mean over the channels per pixel).
enum Images {
    /// Whether a per-sample shape is drawn as an image (else as bars).
    static func isImage(_ shape: [Int]) -> Bool { shape.count == 3 && (shape[0] == 1 || shape[0] == 3) && shape[1] >= 2 && shape[2] >= 2 }

    /// `<img>` of one sample, `size` CSS pixels wide (nearest-neighbour upscaling).
    static func sample(_ v: ArraySlice<Float>, shape: [Int], lo: Double, hi: Double, size: Int, title: String) -> String {
        let (c, h, w) = (shape[0], shape[1], shape[2])
        var px = [UInt8](repeating: 0, count: h * w * c)
        let span = hi > lo ? hi - lo : 1
        let base = v.startIndex
        for y in 0..<h {
            for x in 0..<w {
                for ch in 0..<c {
                    let t = (Double(v[base + ch * h * w + y * w + x]) - lo) / span
                    px[(y * w + x) * c + ch] = UInt8(max(0, min(255, (t * 255).rounded())))
                }
            }
        }
        return img(PNG.dataURL(width: w, height: h, channels: c, pixels: px), w: w, h: h, size: size, title: title)
    }

    /// `<img>` of a perturbation `d` (same shape) on the diverging map at `±scale`.
    static func perturbation(_ d: [Float], shape: [Int], scale: Double, size: Int, title: String) -> String {
        let (c, h, w) = (shape[0], shape[1], shape[2])
        var px = [UInt8](repeating: 0, count: h * w * 3)
        for y in 0..<h {
            for x in 0..<w {
                var s = 0.0
                for ch in 0..<c { s += Double(d[ch * h * w + y * w + x]) }
                let rgb = ColorMap.divergingRGB(scale > 0 ? s / Double(c) / scale : 0)
                px[(y * w + x) * 3] = rgb.0; px[(y * w + x) * 3 + 1] = rgb.1; px[(y * w + x) * 3 + 2] = rgb.2
            }
        }
        return img(PNG.dataURL(width: w, height: h, channels: 3, pixels: px), w: w, h: h, size: size, title: title)
    }

    static func img(_ url: String, w: Int, h: Int, size: Int, title: String) -> String {
        let height = max(1, Int((Double(size) * Double(h) / Double(w)).rounded()))
        return "<img src=\"\(url)\" width=\"\(size)\" height=\"\(height)\" alt=\"\(HTMLPage.h(title))\" title=\"\(HTMLPage.h(title))\">"
    }

    /// A horizontal diverging colour bar from `−scale` to `+scale` (inline SVG).
    static func divergingBar(scale: Double, label: String) -> String {
        let w = 240.0, steps = 40
        var out = ["<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + 160))\" height=\"46\" viewBox=\"0 0 \(Int(w + 160)) 46\" font-family=\"sans-serif\" font-size=\"11\">"]
        for i in 0..<steps {
            let t = (Double(i) + 0.5) / Double(steps) * 2 - 1
            out.append("<rect x=\(SVG.q(20 + Double(i) * w / Double(steps))) y=\"4\" width=\(SVG.q(w / Double(steps) + 0.4)) height=\"14\" fill=\"\(ColorMap.diverging(t))\"/>")
        }
        out.append("<rect x=\"20\" y=\"4\" width=\(SVG.q(w)) height=\"14\" fill=\"none\" stroke=\"#888\"/>")
        let ticks = Ticks.linear(-scale, scale, target: 6)   // at least one tick each side of 0
        for v in ticks.values where abs(v) <= scale * (1 + 1e-9) {
            let x = 20 + (v + scale) / (2 * scale) * w
            out.append("<line x1=\(SVG.q(x)) y1=\"18\" x2=\(SVG.q(x)) y2=\"22\" stroke=\"#666\"/>")
            out.append(SVG.text(ticks.label(v), x: x, y: 34, anchor: "middle"))
        }
        out.append(SVG.text(label + ", scale ±" + String(format: "%.3g", scale), x: w + 30, y: 16))
        out.append("</svg>")
        return out.joined()
    }
}
