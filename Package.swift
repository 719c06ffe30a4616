// swift-tools-version:6.1
//
// Strata: a Kafka-compatible partitioned commit log.
// Module layers (dependencies point down only; see ../shared/DESIGN.md):
//   StrataRecords  — RecordBatch v2 bytes, varints, CRC-32C, LZ4 frames   (NIOCore, CLZ4, CStrataShims)
//   StrataProtocol — Kafka wire codec: frames, headers, per-API messages   (StrataRecords, NIOCore)
//   StrataStorage  — segments, indexes, partition logs, recovery            (StrataRecords, Logging)
//   StrataClient   — async/await producer, consumer, admin over SwiftNIO     (Protocol, Records, NIO)
//   StrataBroker   — request handlers wiring protocol ↔ storage              (Storage, Protocol, NIO, Metrics)
//   strata         — `strata serve|topics|produce|consume|perf` executable
//   segment-dump   — offline inspection of .log/.index/.timeindex files
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
        .library(name: "StrataBroker", targets: ["StrataBroker"]),
        .library(name: "StrataClient", targets: ["StrataClient"]),
        .executable(name: "strata", targets: ["strata"]),
        .executable(name: "segment-dump", targets: ["segment-dump"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
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
        .target(
            name: "StrataBroker",
            dependencies: [
                "StrataStorage",
                "StrataProtocol",
                "StrataRecords",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StrataClient",
            dependencies: [
                "StrataProtocol",
                "StrataRecords",
                "CStrataShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataBroker",
                "StrataStorage",
                "StrataClient",
                "StrataRecords",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "segment-dump",
            dependencies: [
                "StrataStorage",
                "StrataRecords",
                "StrataProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
            dependencies: ["StrataStorage", "StrataRecords", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataProtocolTests",
            dependencies: ["StrataProtocol", "StrataRecords", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataBrokerTests",
            dependencies: ["StrataBroker", "StrataStorage", "StrataProtocol", "StrataRecords", "StrataClient",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrataClientTests",
            dependencies: ["StrataClient", "StrataBroker", "StrataStorage", "StrataProtocol", "StrataRecords",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentDumpTests",
            dependencies: ["StrataStorage", "StrataRecords", "StrataProtocol",
                           .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ]
)
