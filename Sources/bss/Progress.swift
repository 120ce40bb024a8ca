import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A progress display on stderr: a redrawn bar when stderr is a terminal, otherwise plain
/// lines at most every few seconds (so logs from CI or `2> file` stay readable).
///
/// On a terminal every redraw fits its width (`Terminal.columns`, read at each redraw so a
/// resize is followed): a line as wide as the terminal would wrap, and `\r` then redraws
/// only the last row, leaving the others behind. Less important parts go first: the
/// `extra` text, the rate, then the bar shrinks, then the line is cut.
final class Progress {
    /// False on MPI ranks other than 0: one display per job (MPISupport).
    nonisolated(unsafe) static var visible = true
    let total: Int
    let label: String
    let unit: String
    let start = Date()
    let isTTY = isatty(STDERR_FILENO) != 0
    var lastDraw = Date.distantPast
    var extra: () -> String = { "" }
    /// Seconds left for the whole run (several bars), when the caller knows it.
    var runRemaining: () -> Double? = { nil }
    private(set) var done = 0

    init(total: Int, label: String, unit: String) {
        self.total = total; self.label = label; self.unit = unit
        // In a log, the first line is only worth printing once some seconds have passed.
        if !isTTY { lastDraw = start }
    }

    func update(_ done: Int) {
        self.done = done
        let now = Date()
        let interval: TimeInterval = isTTY ? 0.1 : 5
        guard now.timeIntervalSince(lastDraw) >= interval || done >= total else { return }
        lastDraw = now
        draw(final: false)
    }

    func finish() {
        draw(final: true)
    }

    private func draw(final: Bool) {
        guard Self.visible else { return }
        let elapsed = Date().timeIntervalSince(start)
        // The rate is meaningless until some work is done and some time has passed.
        let rate = elapsed > 0.05 && done > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let parts = Parts(
            counts: "\(done)/\(total) \(unit)",
            rate: rate > 0 ? String(format: "%.1f %@/s", rate, unit) : "– \(unit)/s",
            when: final ? "in " + Self.clock(elapsed) : (rate > 0 ? "ETA " + Self.clock(eta) : "ETA –"),
            run: final ? nil : runRemaining().map { "run ETA " + Self.clock($0) },
            extra: extra())
        if isTTY {
            let line = Self.line(label: label, fraction: frac, parts: parts, width: Terminal.columns() - 1)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)\(final ? "\n" : "")".utf8))
        } else if final || done < total {
            FileHandle.standardError.write(Data("\(label): \(parts.joined(rate: true, extra: true))\n".utf8))
        }
    }

    /// The text pieces of one line, most important first.
    struct Parts {
        var counts: String, rate: String, when: String, run: String?, extra: String

        func joined(rate withRate: Bool, extra withExtra: Bool) -> String {
            var pieces = [counts]
            if withRate { pieces.append(rate) }
            pieces.append(when)
            if let run { pieces.append(run) }
            if withExtra && !extra.isEmpty { pieces.append(extra) }
            return pieces.joined(separator: "  ")
        }
    }

    /// `label bar stats` in at most `width` columns (every character used is one column wide).
    static func line(label: String, fraction: Double, parts: Parts, width: Int) -> String {
        func bar(_ w: Int) -> String {
            let filled = max(0, min(w, Int(fraction * Double(w))))
            return String(repeating: "█", count: filled) + String(repeating: "░", count: w - filled)
        }
        for (withRate, withExtra) in [(true, true), (true, false), (false, false)] {
            let stats = parts.joined(rate: withRate, extra: withExtra)
            for barWidth in [24, 16, 10] {
                let text = "\(label) \(bar(barWidth)) \(stats)"
                if text.count <= width { return text }
            }
        }
        let text = "\(label) \(parts.joined(rate: false, extra: false))"
        return String(text.prefix(max(1, width)))
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                         : String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// The width of the terminal on stderr.
enum Terminal {
    /// Columns: the terminal's own size (TIOCGWINSZ on stderr), else `$COLUMNS`, else 80.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        return 80
    }
}
