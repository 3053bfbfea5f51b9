import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Workload

/// The server's throughput next to etcd's (issue 14), both driven by wrk (Debian's `wrk`), a load
/// generator in C that is not the bottleneck: its own CPU time per request is measured in the same
/// run, which bounds what it could send on one core.
///
/// Every request is a different one-object change, as discovery sends them: a fleet Destination
/// whose three endpoints moved (new addresses from a per-connection counter), so no request is a
/// no-op. MeshLedger takes it at `POST /v1/events?op=discover` (group commit, durable) on the
/// fleet log; one etcd 3.4 member (Debian's `etcd-server`, durable) takes the same object bytes as
/// a put of the object's key through its JSON gateway, which wrk base64-encodes per request.
/// After each run the appended count is checked against what wrk counted.
func serverThroughput(_ options: Options) async throws -> [Row] {
    guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: FileManager.default.isExecutableFile) else {
        FileHandle.standardError.write(Data("  server-throughput: wrk is not installed (apt-get install wrk)\n".utf8))
        return []
    }
    let binary = options.values["binary"] ?? "../../.build/release/meshledger"
    let connections = options.int("connections", 64)
    let seconds = options.int("seconds", 10)
    let threads = options.int("wrk-threads", 1)
    let fleetEvents = options.int("fleet-events", 100_000)
    let directory = scratch("wrk")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    // `--keep-script yes` keeps wrk's script and templates (to profile the server by hand).
    defer {
        if options.values["keep-script"] == "yes" {
            FileHandle.standardError.write(Data("  wrk script kept in \(directory)\n".utf8))
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // The templates: every Destination of the fleet, split around its three endpoint addresses.
    let fleet = options.fleet
    let workload = FleetWorkload(fleet)
    var templates = ""
    for c in 0..<fleet.clusters {
        for s in 0..<fleet.servicesPerCluster {
            let manifest = workload.destination(s, c, endpoints: 0)
            var text = String(decoding: JSONText.canonical(manifest.object), as: UTF8.self)
            var parts: [String] = []
            for e in 0..<3 {
                let address = "\"10.\(c).\(s % 250).\(e + 1)\""
                let pieces = text.components(separatedBy: address)
                precondition(pieces.count == 2, "endpoint address \(address) is not once in the template")
                parts.append(pieces[0] + "\"")
                text = "\"" + pieces[1]
            }
            parts.append(text)
            let key = "/bench/destinations/\(manifest.key.name)"
            templates += ([key] + parts).joined(separator: "\t") + "\n"
        }
    }
    try templates.write(toFile: directory + "/templates.tsv", atomically: true, encoding: .utf8)
    let script = directory + "/changes.lua"
    try luaScript.write(toFile: script, atomically: true, encoding: .utf8)

    typealias WrkRun = (count: Int, rate: Double, errors: Int, p50: Double, p99: Double, cpuPerRequest: Double)
    /// The CPU time (user and system) of this process's finished children, in seconds.
    func childrenCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    /// One wrk run: completed requests, requests per second, non-2xx answers, p50 and p99 in ms,
    /// and wrk's own CPU seconds per request.
    func run(_ url: String, mode: String) throws -> WrkRun {
        let cpuBefore = childrenCPU()
        let result = try MeshLedgerTesting.run(
            wrk,
            [
                "-t", String(threads), "-c", String(connections), "-d", "\(seconds)s", "--latency", "-s", script, url,
                "--", mode, directory + "/templates.tsv", String(threads),
            ])
        let output = result.output
        func number(after prefix: String) -> Double? {
            guard let line = output.split(separator: "\n").first(where: { $0.contains(prefix) }) else { return nil }
            let tail = line.components(separatedBy: prefix).last ?? ""
            return Double(tail.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        func milliseconds(_ percentile: String) -> Double {
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("     \(percentile)%") }),
                let value = line.split(separator: " ").last
            else { return .nan }
            let text = String(value)
            if text.hasSuffix("us") { return (Double(text.dropLast(2)) ?? .nan) / 1000 }
            if text.hasSuffix("ms") { return Double(text.dropLast(2)) ?? .nan }
            if text.hasSuffix("s") { return (Double(text.dropLast(1)) ?? .nan) * 1000 }
            return .nan
        }
        guard let rate = number(after: "Requests/sec:"),
            let countLine = output.split(separator: "\n").first(where: { $0.contains("requests in") }),
            let count = Int(countLine.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        else { throw TestFailure("wrk did not report a rate:\n\(output)") }
        let errors = Int(number(after: "Non-2xx or 3xx responses:") ?? 0)
        let cpu = (childrenCPU() - cpuBefore) / Double(max(1, count))
        return (count, rate, errors, milliseconds("50"), milliseconds("99"), cpu)
    }

    // MeshLedger: the fleet log, then the load.
    let store = scratch("wrk-store")
    defer { try? FileManager.default.removeItem(atPath: store) }
    FileHandle.standardError.write(Data("  server-throughput: building a \(fleetEvents)-event fleet log\n".utf8))
    let head = try buildStore(fleet, events: fleetEvents, interval: nil, path: store).log
        .head().sequence
    let server = try ServerProcess(store: store, arguments: ["--group-commit"], binary: binary)
    defer { withExtendedLifetime(server) {} }
    let base = "http://127.0.0.1:\(server.port)"
    let mesh = try run(base + "/v1/events?op=discover", mode: "meshledger")
    guard mesh.errors == 0 else { throw TestFailure("MeshLedger refused \(mesh.errors) changes") }
    let (_, health) = try server.json("GET", "/healthz")
    let appended = Int(health["head"]?.intValue ?? 0) - Int(head)
    // wrk stops with up to `connections` requests in flight: appended but not counted.
    precondition(
        appended >= mesh.count && appended <= mesh.count + connections,
        "MeshLedger appended \(appended) events for \(mesh.count) completed changes")
    let memory = procStatusMiB(server.process.processIdentifier, "VmHWM")
    server.stop()

    // etcd: one member, the same objects as puts.
    guard EtcdCluster.isAvailable else {
        FileHandle.standardError.write(
            Data("  server-throughput: etcd is not installed (apt-get install etcd-server)\n".utf8))
        return []
    }
    let etcd = try EtcdCluster(members: 1)
    defer { etcd.shutdown() }
    try etcd.waitHealthy()
    let etcdRun = try run(etcd.clientURLs[0] + "/v3/kv/put", mode: "etcd")
    guard etcdRun.errors == 0 else { throw TestFailure("etcd refused \(etcdRun.errors) puts") }
    let status = try etcdJSON(etcd.clientURLs[0], "/v3/kv/range", "{\"key\": \"AA==\"}")
    let revision = Int(
        (try? JSONText.parse(Array(status.body.utf8)))?[path: ["header", "revision"]]?.stringValue ?? "")
    precondition(
        (revision ?? 0) - 1 >= etcdRun.count, "etcd's revision \(revision ?? -1) is behind \(etcdRun.count) puts")

    func perSecond(_ value: Double) -> String { String(format: "%.0f changes/s", value) }
    let latency = { (run: WrkRun) in
        String(format: "p50 %.2f ms, p99 %.2f ms", run.p50, run.p99)
    }
    return [
        Row(
            measure: "wrk's own CPU per request (its ceiling on one core), MeshLedger run; etcd run",
            value: String(
                format: "%.1f µs (%.0f/s); %.1f µs (%.0f/s)", mesh.cpuPerRequest * 1e6, 1 / mesh.cpuPerRequest,
                etcdRun.cpuPerRequest * 1e6, 1 / etcdRun.cpuPerRequest),
            ratio: String(format: "%.1fx the MeshLedger rate below", 1 / mesh.cpuPerRequest / mesh.rate),
            target: "generator not the bottleneck"),
        Row(
            measure:
                "server: one-object changes from \(connections) connections (wrk, \(seconds) s), group commit, on a \(head)-event fleet log",
            value: perSecond(mesh.rate), ratio: latency(mesh), target: ">= 20,000/s"),
        Row(
            measure: "etcd 3.4, one member, the same objects put through its JSON gateway, same generator",
            value: perSecond(etcdRun.rate),
            ratio: String(format: "MeshLedger = %.2fx etcd; etcd %@", mesh.rate / etcdRun.rate, latency(etcdRun)),
            target: ">= 5x etcd"),
        Row(
            measure: "server peak memory after that load", value: String(format: "%.0f MiB", memory), ratio: "-",
            target: "-"),
    ]
}

/// wrk's script: `-- MODE TEMPLATES THREADS`. Each request takes the next template (round-robin
/// from the thread's own offset) and fills its three endpoint addresses from the thread's counter,
/// so every request changes the object. MODE `meshledger` posts the object; `etcd` posts
/// `{"key", "value"}` (base64) for etcd's `/v3/kv/put`.
private let luaScript = #"""
    local threads_started = 0
    function setup(thread)
      thread:set("id", threads_started)
      threads_started = threads_started + 1
    end

    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    local digits = {}
    for i = 1, 64 do digits[i - 1] = alphabet:sub(i, i) end
    local function base64(text)
      local out, n = {}, #text
      for i = 1, n, 3 do
        local a, b, c = text:byte(i, i + 2)
        local value = a * 65536 + (b or 0) * 256 + (c or 0)
        local d1 = math.floor(value / 262144) % 64
        local d2 = math.floor(value / 4096) % 64
        local d3 = math.floor(value / 64) % 64
        local d4 = value % 64
        out[#out + 1] = digits[d1] .. digits[d2] .. (b and digits[d3] or "=") .. (c and digits[d4] or "=")
      end
      return table.concat(out)
    end

    local mode, templates, counter, stride, path = "meshledger", {}, 0, 1, "/"
    function init(args)
      mode = args[1]
      stride = tonumber(args[3]) or 1
      counter = id or 0
      for line in io.lines(args[2]) do
        local fields = {}
        for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
        templates[#templates + 1] = fields
      end
      path = wrk.path
    end

    function request()
      local n = counter
      counter = counter + stride
      local t = templates[(n % #templates) + 1]
      local g = math.floor(n / #templates) + 1
      local a, b = math.floor(g / 250) % 250, g % 250
      local body = t[2] .. "10.200." .. a .. "." .. b .. t[3] .. "10.201." .. a .. "." .. b .. t[4]
        .. "10.202." .. a .. "." .. b .. t[5]
      if mode == "etcd" then
        body = '{"key":"' .. base64(t[1]) .. '","value":"' .. base64(body) .. '"}'
      end
      return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
    end
    """#
