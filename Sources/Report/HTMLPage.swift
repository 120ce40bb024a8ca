import Foundation
import Plot

/// The HTML page of a report: one self-contained file (inline CSS, inline SVG plots, PNG
/// images as `data:` URLs, no fonts, scripts or links from elsewhere), laid out for a laptop
/// screen and for printing (each section starts on a new page, figures are not split).
///
/// A small inline script runs on `load` and records on `<body>`: `data-report-images` (images
/// and plots on the page), `data-report-broken` (how many have zero size or failed to decode),
/// `data-report-errors` (script errors caught) and `data-report-ready="true"`, so a headless
/// browser can check the page with `--dump-dom`.
public struct HTMLPage {
    public var title: String
    var body: [String] = []
    var toc: [(id: String, title: String)] = []

    public init(title: String) { self.title = title }

    /// HTML-escaped text.
    public static func h(_ s: String) -> String { SVG.escape(s) }

    mutating func section(_ id: String, _ title: String, kind: String, _ content: [String]) {
        toc.append((id, title))
        body.append("<section id=\"\(id)\" class=\"\(kind)\"><h2>\(Self.h(title))</h2>")
        body += content
        body.append("</section>")
    }

    /// The complete document.
    public func html(generatedBy: String) -> String {
        var out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                   "<title>\(Self.h(title))</title>", "<style>\(Self.css)</style>",
                   "<script>\(Self.script)</script>", "</head><body>",
                   "<header><h1>\(Self.h(title))</h1><p class=\"small\">\(Self.h(generatedBy))</p>"]
        if toc.count > 1 {
            out.append("<nav><ol>" + toc.map { "<li><a href=\"#\($0.id)\">\(Self.h($0.title))</a></li>" }.joined() + "</ol></nav>")
        }
        out.append("</header>")
        out += body
        out.append("</body></html>")
        return out.joined(separator: "\n") + "\n"
    }

    static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0 auto;max-width:1180px;padding:12px 20px;color:#222;line-height:1.4}
        h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.3em;border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
        h3{font-size:1.05em;margin:1.2em 0 .4em}.small{color:#666;font-size:.85em}.note{color:#8a4b00;background:#fff6e5;padding:4px 8px;border-left:3px solid #e0a040}
        figure{margin:.6em 0;display:inline-block;vertical-align:top;break-inside:avoid}figcaption{font-size:.85em;color:#555;max-width:560px}
        svg.plot{max-width:100%;height:auto;display:block}
        table{border-collapse:collapse;font-size:.88em;margin:.4em 0;break-inside:avoid}td,th{border:1px solid #ddd;padding:2px 7px;text-align:right}
        th{background:#f4f4f4}td.l,th.l{text-align:left}td.best{font-weight:bold;background:#e8f5e9}
        table.meta td{text-align:left;overflow-wrap:anywhere}table.meta td:first-child{color:#555;white-space:nowrap}
        .grid td{border:1px solid #eee;padding:2px;text-align:center;vertical-align:top;font-size:.75em}
        .grid img{image-rendering:pixelated;display:block;margin:1px auto}.grid td.acc{background:#f0fbf0}.grid td.rej{background:#fdf0f0}
        .grid th{font-size:.8em}
        @media print{body{max-width:none;padding:0}section{break-before:page}nav{display:none}}
        """

    static let script = """
        window.__reportErrors=0;window.addEventListener('error',function(){window.__reportErrors++;document.body&&(document.body.dataset.reportErrors=window.__reportErrors)},true);
        window.addEventListener('load',function(){var els=document.querySelectorAll('img,svg.plot'),broken=0;
        for(var i=0;i<els.length;i++){var e=els[i],r=e.getBoundingClientRect();
        if(!(r.width>0&&r.height>0)||(e.tagName==='IMG'&&!(e.complete&&e.naturalWidth>0))){broken++;e.setAttribute('data-broken','true')}}
        var b=document.body.dataset;b.reportImages=els.length;b.reportBroken=broken;b.reportErrors=window.__reportErrors;b.reportReady='true'});
        """
}

/// Small HTML fragments shared by the sections.
enum Fragment {
    static func h(_ s: String) -> String { HTMLPage.h(s) }

    /// An SVG document inlined as a figure (the XML prologue-free `<svg …>` with class `plot`).
    static func figure(_ svg: String, caption: String? = nil) -> String {
        let inline = svg.replacingOccurrences(of: "<svg xmlns=", with: "<svg class=\"plot\" role=\"img\" xmlns=", options: [], range: svg.range(of: "<svg xmlns="))
        return "<figure>" + inline + (caption.map { "<figcaption>\(h($0))</figcaption>" } ?? "") + "</figure>"
    }

    static func note(_ s: String) -> String { "<p class=\"note\">\(h(s))</p>" }

    /// A two-column table of names and values.
    static func meta(_ rows: [(String, String)]) -> String {
        "<table class=\"meta\">" + rows.map { "<tr><td>\(h($0.0))</td><td>\(h($0.1))</td></tr>" }.joined() + "</table>"
    }

    /// A table with a header row; `cells` are already-escaped HTML; `left` columns align left.
    static func table(header: [String], rows: [[String]], left: Set<Int> = [0], best: [[Bool]]? = nil) -> String {
        var out = "<table><tr>" + header.enumerated().map { "<th\(left.contains($0.offset) ? " class=\"l\"" : "")>\(h($0.element))</th>" }.joined() + "</tr>"
        for (r, row) in rows.enumerated() {
            out += "<tr>" + row.enumerated().map { c, v in
                var cls: [String] = []
                if left.contains(c) { cls.append("l") }
                if best?[r][c] == true { cls.append("best") }
                return "<td\(cls.isEmpty ? "" : " class=\"\(cls.joined(separator: " "))\"")>\(v)</td>"
            }.joined() + "</tr>"
        }
        return out + "</table>"
    }

    static func num(_ v: Double?, _ format: String = "%.4f") -> String { v.map { $0.isFinite ? String(format: format, $0) : "-" } ?? "-" }
}
