// tether: the command-line tool. The subcommands are in their own files
// (see commands.h); this file only builds the application around them.
#include <csignal>
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char** argv) {
  // A peer that goes away must be an error return from a write, never a
  // signal that kills the tool.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "tether: Qt-compatible networking jobs from the command line (file transfer, fortunes, UDP broadcast and "
      "multicast, lookups, ...)",
      "tether"};
  app.set_version_flag("--version", std::string("tether ") + TETHER_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Run `tether SUBCOMMAND --help` for a subcommand's options.\n"
      "\n"
      "Exit status: 0 success; 1 the job failed (refused, interrupted, not verified);\n"
      "2 bad command line; 3 cannot resolve, connect or listen; 4 a local file or\n"
      "directory cannot be read or used.");

  tether::cli::addSendCommand(app);
  tether::cli::addReceiveCommand(app);
  tether::cli::addFortuneServerCommand(app);
  tether::cli::addFortuneCommand(app);
  tether::cli::addBroadcastCommand(app);
  tether::cli::addMulticastCommand(app);
  tether::cli::addLookupCommand(app);
  tether::cli::addInterfacesCommand(app);
  tether::cli::addEchoServerCommand(app);

  // A mistyped subcommand gets its own message, not "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->check_name(argv[1]);
    if (!known) {
      std::fprintf(stderr, "tether: unknown subcommand '%s'\nRun `tether --help` for the list.\n", argv[1]);
      return tether::cli::kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tether: %s\nRun `tether --help` for usage.\n", e.what());
    return tether::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tether: %s\n", e.what());
    return tether::cli::kExitFailed;
  }
  return tether::cli::kExitOk;
}
