import NIOCore
import StrataProtocol
import Testing

/// `__consumer_offsets` key/value codecs: byte layouts written out by hand from Kafka's schemas,
/// round trips of every version, tombstones and truncated or unknown input.
@Suite struct GroupCoordinatorRecordsTests {
    private let commitKey = GroupCoordinatorRecordKey.offsetCommit(
        OffsetCommitKey(group: "g", topic: "t", partition: 3), type: 1)

    private func sampleMembers() -> [GroupMetadataValue.Member] {
        [
            .init(memberId: "m-1", groupInstanceId: "static-1", clientId: "c", clientHost: "/10.0.0.1",
                  rebalanceTimeout: 60_000, sessionTimeout: 45_000, subscription: bytes([0, 1, 2]),
                  assignment: bytes([9])),
            .init(memberId: "m-2", clientId: "c2", clientHost: "/10.0.0.2", rebalanceTimeout: 30_000,
                  sessionTimeout: 10_000),
        ]
    }

    @Test func offsetCommitKeyHasKafkaLayout() throws {
        let encoded = GroupCoordinatorRecord.encode(key: commitKey)
        #expect(hexString(encoded) == "0001" + "00016700017400000003")
        #expect(try GroupCoordinatorRecord.decodeKey(encoded) == commitKey)
    }

    @Test func legacyOffsetCommitKeyTypeZeroDecodes() throws {
        let key = try GroupCoordinatorRecord.decodeKey(hex("0000 0001 67 0001 74 00000003"))
        #expect(key == .offsetCommit(OffsetCommitKey(group: "g", topic: "t", partition: 3), type: 0))
        #expect(key.recordType == 0)
        #expect(GroupCoordinatorRecord.encode(key: key) == hex("0000 0001 67 0001 74 00000003"))
    }

    @Test func groupMetadataKeyHasKafkaLayout() throws {
        let key = GroupCoordinatorRecordKey.groupMetadata(GroupMetadataKey(group: "grp"))
        let encoded = GroupCoordinatorRecord.encode(key: key)
        #expect(hexString(encoded) == "0002" + "0003677270")
        #expect(try GroupCoordinatorRecord.decodeKey(encoded) == key)
    }

    @Test func offsetCommitValueV3HasKafkaLayout() throws {
        let value = OffsetCommitValue(offset: 42, leaderEpoch: 7, metadata: "m", commitTimestamp: 1_700_000_000_000)
        let encoded = GroupCoordinatorRecord.encode(value: .offsetCommit(value, version: 3))
        #expect(hexString(encoded) == "0003" + "000000000000002a" + "00000007" + "00016d" + "0000018bcfe56800")
        let decoded = try GroupCoordinatorRecord.decodeValue(encoded, key: commitKey)
        #expect(decoded == .offsetCommit(value, version: 3))
    }

    @Test func offsetCommitValueV1CarriesExpireTimestamp() throws {
        let value = OffsetCommitValue(offset: 1, metadata: "", commitTimestamp: 10, expireTimestamp: 20)
        let encoded = GroupCoordinatorRecord.encode(value: .offsetCommit(value, version: 1))
        #expect(hexString(encoded) == "0001" + "0000000000000001" + "0000" + "000000000000000a" + "0000000000000014")
        #expect(try GroupCoordinatorRecord.decodeValue(encoded, key: commitKey) == .offsetCommit(value, version: 1))
    }

    @Test(arguments: OffsetCommitValue.versions)
    func offsetCommitValueRoundTrips(version: Int16) throws {
        var value = OffsetCommitValue(offset: 99, metadata: "meta", commitTimestamp: 5)
        if version == 3 { value.leaderEpoch = 4 }
        if version == 1 { value.expireTimestamp = 77 }
        let encoded = GroupCoordinatorRecord.encode(value: .offsetCommit(value, version: version))
        let decoded = try GroupCoordinatorRecord.decodeValue(encoded, key: commitKey)
        #expect(decoded == .offsetCommit(value, version: version))
        #expect(decoded.map(GroupCoordinatorRecord.encode(value:)) == encoded)
    }

    @Test(arguments: GroupMetadataValue.versions)
    func groupMetadataValueRoundTrips(version: Int16) throws {
        var members = sampleMembers()
        for index in members.indices {
            if version < 3 { members[index].groupInstanceId = nil }
            if version < 1 { members[index].rebalanceTimeout = -1 }
        }
        let value = GroupMetadataValue(protocolType: "consumer", generation: 5, protocolName: "range", leader: "m-1",
                                       currentStateTimestamp: version >= 2 ? 1_700_000_000_000 : -1,
                                       members: members)
        let key = GroupCoordinatorRecordKey.groupMetadata(GroupMetadataKey(group: "grp"))
        let encoded = GroupCoordinatorRecord.encode(value: .groupMetadata(value, version: version))
        let decoded = try GroupCoordinatorRecord.decodeValue(encoded, key: key)
        #expect(decoded == .groupMetadata(value, version: version))
        #expect(decoded.map(GroupCoordinatorRecord.encode(value:)) == encoded)
    }

    @Test func emptyGroupMetadataV3HasKafkaLayout() throws {
        let value = GroupMetadataValue(protocolType: "consumer", generation: 1, protocolName: nil, leader: nil,
                                       currentStateTimestamp: 0, members: [])
        let encoded = GroupCoordinatorRecord.encode(value: .groupMetadata(value, version: 3))
        #expect(hexString(encoded) == "0003" + "0008" + hexString(ByteBuffer(string: "consumer")) + "00000001"
            + "ffff" + "ffff" + "0000000000000000" + "00000000")
    }

    @Test func nullValueIsATombstone() throws {
        #expect(try GroupCoordinatorRecord.decodeValue(nil, key: commitKey) == nil)
    }

    @Test func unsupportedKeyTypesAreReportedNotDecoded() throws {
        let key = try GroupCoordinatorRecord.decodeKey(hex("0005 0001 67"))
        #expect(key == .unsupported(type: 5))
        #expect(throws: ProtocolError.self) { try GroupCoordinatorRecord.decodeValue(hex("0000"), key: key) }
    }

    @Test func unsupportedValueVersionThrowsWithPosition() {
        do {
            _ = try GroupCoordinatorRecord.decodeValue(hex("0004 00"), key: commitKey)
            Issue.record("version 4 decoded")
        } catch {
            #expect(error.reason == .unsupportedVersion(4))
            #expect(error.field == "version")
            #expect(error.position == 0)
        }
    }

    /// Every proper prefix of a valid key or value is rejected with a located error, never a trap.
    @Test func everyTruncationThrows() throws {
        let key = GroupCoordinatorRecord.encode(key: commitKey)
        let value = GroupCoordinatorRecord.encode(value: .groupMetadata(
            GroupMetadataValue(protocolType: "consumer", generation: 1, protocolName: "range", leader: "m-1",
                               currentStateTimestamp: 3, members: sampleMembers()), version: 3))
        let groupKey = GroupCoordinatorRecordKey.groupMetadata(GroupMetadataKey(group: "g"))
        for length in 0..<key.readableBytes {
            #expect(throws: ProtocolError.self) {
                try GroupCoordinatorRecord.decodeKey(key.getSlice(at: 0, length: length)!)
            }
        }
        for length in 0..<value.readableBytes {
            do {
                _ = try GroupCoordinatorRecord.decodeValue(value.getSlice(at: 0, length: length)!, key: groupKey)
                Issue.record("prefix of \(length) bytes decoded")
            } catch {
                #expect(error.position != nil)
            }
        }
    }

    @Test func truncationErrorNamesTheField() {
        do {
            _ = try GroupCoordinatorRecord.decodeValue(hex("0003 000000000000002a 0000"), key: commitKey)
            Issue.record("truncated value decoded")
        } catch {
            #expect(error.field == "leader_epoch")
            #expect(error.position == 10)
            #expect(error.context == "OffsetCommitValue v3")
        }
    }
}
