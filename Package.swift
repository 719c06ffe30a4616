// swift-tools-version:6.1
//
// Strata: a Kafka-compatible partitioned commit log.
// Module layers (dependencies point down only; see ../shared/DESIGN.md):
//   StrataRecords  — RecordBatch v2 bytes, varints, CRC-32C, LZ4 frames   (NIOCore, CLZ4, CStrataShims)
//   StrataProtocol — Kafka wire codec: frames, headers, per-API messages   (StrataRecords, NIOCore)
//   StrataStorage  — segments, indexes, partition logs, recovery            (StrataRecords, Logging)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataRecords", targets: ["StrataRecords"]),
        .library(name: "StrataStorage", targets: ["StrataStorage"]),
        .library(name: "StrataProtocol", targets: ["StrataProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CStrataShims"),
        .target(
            name: "StrataRecords",
            dependencies: [
                "CLZ4",
                "CStrataShims",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StrataStorage",
            dependencies: [
                "StrataRecords",
                "CStrataShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StrataProtocol",
            dependencies: [
                "StrataRecords",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataRecordsTests",
            dependencies: ["StrataRecords", "CStrataShims"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataStorageTests",
            dependencies: ["StrataStorage", "StrataRecords"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataProtocolTests",
            dependencies: ["StrataProtocol", "StrataRecords", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ]
)
