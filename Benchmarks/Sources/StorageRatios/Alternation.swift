import Foundation
import StorageBenchKit

/// Runs each measurement `rounds` times, interleaved round by round and rotating which goes first,
/// after one untimed warm-up call of each (first-touch faults, lazy mappings). Each closure returns
/// seconds. Results come back in the order given.
func alternate(rounds: Int, _ measurements: [() throws -> Double]) throws -> [Samples] {
    for measure in measurements { _ = try measure() }
    var results = [Samples](repeating: Samples(), count: measurements.count)
    for round in 0..<rounds {
        for step in 0..<measurements.count {
            let index = (round + step) % measurements.count
            results[index].append(try measurements[index]())
        }
    }
    return results
}

/// Removes a file or directory tree, ignoring one that is already gone.
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
