import Foundation
import MeshModel

/// The self-contained HTML page of a VirtualDestination's history: one swimlane per mesh (and one
/// for the overall state) over the sequence axis, colored by state, with a mark at every causing
/// event and the event's details on hover or click. No network resources: CSS, script and data
/// are inline.
public enum HistoryPage {
    /// Renders the page.
    public static func render(name: String, transitions: [StatusTransition]) -> String {
        let data = JSONText.string(.array(transitions.map(\.json)))
            .replacingOccurrences(of: "</", with: "<\\/")
        let title = escape("MeshLedger history: VirtualDestination \(name)")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(title)</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2430; }
            h1 { font-size: 18px; margin: 0 0 4px; }
            .sub { color: #5b6573; margin-bottom: 16px; }
            svg { border: 1px solid #d5dae1; background: #fbfcfd; }
            .lane-label { font-size: 12px; fill: #1d2430; }
            .axis { font-size: 11px; fill: #5b6573; }
            .segment[data-state="ACCEPTED"] { fill: #3aa55d; }
            .segment[data-state="INVALID"] { fill: #d9534f; }
            .segment[data-state="FAILED"] { fill: #8e44ad; }
            .segment[data-state="PENDING"], .segment[data-state="ABSENT"] { fill: #c8ced6; }
            .mark { fill: #1d2430; stroke: #fff; stroke-width: 1.5; cursor: pointer; }
            .mark.selected { fill: #f0a500; }
            #details { margin-top: 16px; padding: 12px; border: 1px solid #d5dae1; min-height: 80px; white-space: pre-wrap;
              font-family: ui-monospace, monospace; font-size: 12px; }
            .legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; color: #fff; border-radius: 3px; }
            </style>
            </head>
            <body>
            <h1>\(title)</h1>
            <div class="sub">Each lane is a mesh the VirtualDestination is exported to (and its overall state).
            Each mark is the event that changed its status; hover or click it for details.</div>
            <div class="legend"><span style="background:#3aa55d">ACCEPTED</span><span style="background:#d9534f">INVALID</span><span style="background:#8e44ad">FAILED</span><span style="background:#c8ced6;color:#1d2430">not exported / absent</span></div>
            <div id="chart"></div>
            <div id="details">Hover over or click a mark.</div>
            <noscript><p>This page draws its chart with JavaScript; the transitions are in the data block below.</p></noscript>
            <script type="application/json" id="history-data">\(data)</script>
            <script>
            (function () {
              var transitions = JSON.parse(document.getElementById('history-data').textContent);
              var NS = 'http://www.w3.org/2000/svg';
              function el(name, attrs, parent) {
                var e = document.createElementNS(NS, name);
                for (var k in attrs) e.setAttribute(k, attrs[k]);
                if (parent) parent.appendChild(e);
                return e;
              }
              var meshes = {};
              transitions.forEach(function (t) {
                [t.before, t.after].forEach(function (v) { if (v) Object.keys(v.meshes).forEach(function (m) { meshes[m] = true; }); });
              });
              var lanes = ['overall'].concat(Object.keys(meshes).sort());
              var left = 300, laneH = 34, top = 24, width = 1100;
              var n = transitions.length;
              var step = n > 0 ? (width - left - 40) / n : 0;
              var svg = el('svg', { width: width, height: top + lanes.length * laneH + 40, id: 'swimlanes' }, document.getElementById('chart'));
              function stateOf(view, lane) {
                if (!view) return 'ABSENT';
                if (lane === 'overall') return view.state;
                var s = view.meshes[lane];
                return s ? s.split(' ')[0] : 'ABSENT';
              }
              function show(t, mark) {
                var prev = document.querySelector('.mark.selected');
                if (prev) prev.classList.remove('selected');
                if (mark) mark.classList.add('selected');
                var c = t.cause;
                document.getElementById('details').textContent =
                  'seq ' + c.sequence + '  ' + c.recordedAt + '\\n' +
                  c.source + ' / ' + c.actor + ': ' + c.change + ' ' + c.kind + ' ' + c.namespace + '/' + c.name + '\\n\\n' +
                  t.changes.join('\\n');
              }
              lanes.forEach(function (lane, li) {
                var y = top + li * laneH;
                var g = el('g', { 'class': 'lane', 'data-mesh': lane }, svg);
                var label = el('text', { x: 8, y: y + 20, 'class': 'lane-label' }, g);
                label.textContent = lane;
                for (var i = 0; i < n; i++) {
                  var x = left + i * step;
                  var w = (i === n - 1) ? 40 : step;
                  var st = stateOf(transitions[i].after, lane);
                  var r = el('rect', { x: x, y: y + 6, width: Math.max(w, 1), height: laneH - 12, 'class': 'segment', 'data-state': st, 'data-seq': transitions[i].cause.sequence }, g);
                  var tip = el('title', {}, r);
                  tip.textContent = lane + ': ' + st + ' from seq ' + transitions[i].cause.sequence;
                }
              });
              transitions.forEach(function (t, i) {
                var x = left + i * step;
                lanes.forEach(function (lane, li) {
                  if (stateOf(t.before, lane) === stateOf(t.after, lane) && lane !== 'overall') return;
                  var m = el('circle', { cx: x, cy: top + li * laneH + laneH / 2, r: 6, 'class': 'mark', 'data-seq': t.cause.sequence, tabindex: 0 }, svg);
                  m.addEventListener('mouseenter', function () { show(t, m); });
                  m.addEventListener('click', function () { show(t, m); });
                });
                var a = el('text', { x: x, y: top + lanes.length * laneH + 16, 'class': 'axis' }, svg);
                a.textContent = t.cause.sequence;
              });
              if (n > 0) show(transitions[n - 1], null);
              document.body.setAttribute('data-rendered', String(n));
            })();
            </script>
            </body>
            </html>

            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
