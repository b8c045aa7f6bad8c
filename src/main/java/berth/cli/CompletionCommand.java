package berth.cli;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code berth completion}: a bash (and zsh, through bashcompinit) completion script for every command and flag. */
@Command(name = "completion", mixinStandardHelpOptions = true,
    description = "Print a bash completion script for berth (zsh: run 'autoload -U bashcompinit && bashcompinit' first).",
    footerHeading = "%nExamples:%n",
    footer = {"  source <(berth completion)", "  berth completion > /etc/bash_completion.d/berth"})
final class CompletionCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    System.out.print(AutoComplete.bash("berth", spec.root().commandLine()));
  }
}
