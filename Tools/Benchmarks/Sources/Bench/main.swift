// MeshLedger's benchmark harness: `swift run -c release --package-path Tools/Benchmarks Bench <benchmark> [options]`.
// Each benchmark measures MeshLedger next to its baseline in the same run and prints ratios.
// This file only dispatches; each benchmark has its own file, what they share is in Support.swift.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
let options = Options(Array(arguments.dropFirst()))
var rows: [Row] = []
switch arguments.first {
case "past-status": try pastStatus(options, rows: &rows)
case "append": try append(options, rows: &rows)
case "restore": try restoreLoop(options, rows: &rows)
case "replay": try replay(options, rows: &rows)
case "audit-queries": try auditQueries(options, rows: &rows)
case "recorded-past-status": try recordedPastStatus(options, rows: &rows)
case "scaling": try scaling(options, rows: &rows)
case "server-load": rows = try await serverLoad(options)
case "kube-reads": rows = try await kubeReads(options)
case "replicated": rows = try await replicated(options)
case "server-throughput": rows = try await serverThroughput(options)
case "all":
    try append(options, rows: &rows)
    try scaling(options, rows: &rows)
    try replay(options, rows: &rows)
    try auditQueries(options, rows: &rows)
    try pastStatus(options, rows: &rows)
    // The issue's own log length for past statuses, when the run's is another.
    if options.int("events", 200_000) != 100_000 { try pastStatus(options, events: 100_000, rows: &rows) }
    try recordedPastStatus(options, rows: &rows)
    if options.values["binary"] != nil {
        rows += try await serverLoad(options)
        rows += try await serverThroughput(options)
        rows += try await kubeReads(options)
        rows += try await replicated(options)
    }
default:
    print(
        "usage: Bench all|append|restore|replay|audit-queries|recorded-past-status|scaling|past-status|server-load|server-throughput|kube-reads|replicated [--name value ...]"
    )
    exit(2)
}
if !rows.isEmpty { printTable(rows) }
