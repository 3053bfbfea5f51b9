import Foundation
import MeshLedgerCLI

exit(MeshLedgerCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
