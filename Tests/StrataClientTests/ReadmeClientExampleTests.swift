import NIOCore
import StrataClient
import Testing

/// The README's StrataClient example, compiled and run against a real broker so the README cannot
/// rot. Differences from the README: the bootstrap address, and the loop stops after the records
/// the example wrote (the README's runs forever).
@Suite struct ReadmeClientExampleTests {
    @Test func readmeProducerAndConsumerExampleRuns() async throws {
        let server = try await InProcessServer()
        let bootstrap = server.bootstrap

        let producer = try await StrataProducer(bootstrap: bootstrap)  // acks=all, idempotent, LZ4
        let placed = try await producer.send(topic: "events", key: Array("user-1".utf8), value: Array("signed up".utf8))
        print("stored at \(placed.partition)/\(placed.offset)")
        for i in 0..<10_000 {  // batched, fire-and-forget
            try await producer.enqueue(topic: "events", key: Array("user-\(i % 100)".utf8), value: Array("e\(i)".utf8))
        }
        try await producer.close()  // flushes first

        let consumer = try await StrataConsumer(bootstrap: bootstrap)
        try await consumer.assign(topic: "events", from: .earliest)  // or .latest, .offset(n), .timestamp(ms)
        var seen = 0
        var values = Set<String>()
        for try await record in consumer.records {
            values.insert(record.value.map { String(buffer: $0) } ?? "null")
            seen += 1
            if seen == 10_001 { break }
        }
        #expect(values.count == 10_001 && values.contains("signed up") && values.contains("e9999"))
        await consumer.close()
        await server.stop()
    }
}
