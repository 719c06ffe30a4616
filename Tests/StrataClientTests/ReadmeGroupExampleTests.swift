import NIOCore
import StrataClient
import Testing

/// The README's consumer-group example, compiled and run against a real broker so it cannot rot.
/// Differences from the README: the bootstrap address, `handle` collects the values, and the loop
/// stops after the records written here (the README's runs forever).
@Suite struct ReadmeGroupExampleTests {
    @Test func readmeConsumerGroupExampleRunsAndCommits() async throws {
        let server = try await InProcessServer()
        let bootstrap = server.bootstrap
        let producer = try await StrataProducer(bootstrap: bootstrap)
        for i in 0..<100 { try await producer.enqueue(topic: "events", key: nil, value: Array("e\(i)".utf8)) }
        try await producer.close()
        var values: [String] = []
        func handle(_ record: ConsumerRecord) { values.append(record.value.map { String(buffer: $0) } ?? "null") }

        var config = ConsumerConfig()
        config.enableAutoCommit = false  // default true
        let member = try await StrataConsumer(bootstrap: bootstrap, config: config)
        try member.subscribe(topics: ["events"], group: "billing")
        Task { for await event in member.rebalanceEvents { print(event) } }  // .assigned([…]) / .revoked([…])
        for try await record in member.records {
            handle(record)
            try await member.commit()  // what was yielded so far
            if values.count == 100 { break }
        }

        await member.close()
        #expect(Set(values) == Set((0..<100).map { "e\($0)" }))
        let admin = try await StrataAdmin(bootstrap: bootstrap)
        #expect(try await admin.listGroupOffsets("billing").values.reduce(0, +) == 100)
        try await admin.close()
        await server.stop()
    }
}
