"""The library's words in command-line terms: advice that names a Python keyword or function
(`n_resamples=1000`, `starts='grid'`, `jscale.bootstrap`, `columns={...}`) names the command's
flag instead, or is left out where the command has no such flag; and findings (warnings) printed
once each, however many calls raised them.
"""

from __future__ import annotations

import re
import sys

# (pattern, the CLI's words, the flags they need): where a command lacks a flag, the words that
# name it are left out (the finding itself stays). Patterns match the library's advice as worded
# in jscale.inference._diagnostics, _bands, _uncertainty and jscale.sweeps.
_ADVICE = (
    (r" Try more starts or a larger solver max_steps\.", " Try more --starts or a larger --max-steps.",
     ("--starts", "--max-steps")),
    (r" Try more starts or a larger solver max_steps\.", " Try more --starts.", ("--starts",)),
    (r" Try more starts or a larger solver max_steps\.", "", ()),
    (r" Try starts='grid' or a larger solver max_steps\.", " Try --starts grid or a larger --max-steps.",
     ("--starts", "--max-steps")),
    (r" Try starts='grid' or a larger solver max_steps\.", " Try --starts grid.", ("--starts",)),
    (r" Try starts='grid' or a larger solver max_steps\.", "", ()),
    (r"; use n_resamples=(\d+) or more", r"; use --resamples \1 or more", ("--resamples",)),
    (r"; use n_resamples=(\d+) or more", "; use more resamples", ()),
    (r"; use jscale\.bootstrap\.", "; a bootstrap (--resamples B) gives bands.", ("--resamples",)),
    (r"; use jscale\.bootstrap\.", ".", ()),
    (r"; jscale\.backtest measures it on the data you have\.", ".", ()),
    (r"pass a jscale\.bootstrap result to compute_optimal \(on the command line, jscale fit bootstraps by default\)\.",
     "bootstrap the fit: --resamples 1000 or more (the default).", ("--resamples",)),
    (r"pass a jscale\.bootstrap result to compute_optimal \(on the command line, jscale fit bootstraps by default\)\.",
     "bootstrap the fit.", ()),
    (r"\(jscale\.laws\.DataConstrained\)", "(--law data-constrained)", ("--law",)),
    (r"\(jscale\.laws\.DataConstrained\)", "(the data-constrained law)", ()),
    (r"within rtol=(\S+) of no budget", r"within --rtol \1 of no budget", ("--rtol",)),
    (r"within rtol=(\S+) of no budget", r"within a relative \1 of no budget", ()),
    (r" \(`status` says which; table\(\) marks them\)", " (the status column marks them)", ()),
    (r"Pass target='[^']*' to fit another column, or name", "Pass --target COLUMN to fit another column, or name",
     ("--target",)),
    (r"Pass target='[^']*' to fit another column, or name", "Name", ()),
    (r" \(residual='log'\)", " (--residual log)", ("--residual",)),
    (r" \(residual='log'\)", "", ()),
    (r"ScalingData\.from_arrays / from_csv", "the data file", ()),
)


def cli_text(text: str, flags=()) -> str:
    """`text` (a message, a summary) with its Python advice in the words of a command whose
    options are `flags`; `columns={'loss': 'header'}` becomes `--columns loss=HEADER`."""

    def columns(match):
        pairs = re.findall(r"'([^']+)'\s*:\s*(?:'([^']*)'|\.\.\.)", match.group(1))

        def shown(header):
            return header if header and "<" not in header and header != "header" else "HEADER"

        return "--columns " + ",".join(f"{field}={shown(header)}" for field, header in pairs)

    text = re.sub(r"columns=\{([^}]*)\}", columns, text)
    flags, done = set(flags), set()
    for pattern, words, needs in _ADVICE:  # of a pattern's entries, the first whose flags the command has
        if pattern not in done and flags.issuperset(needs):
            text = re.sub(pattern, words, text)
            done.add(pattern)
    return text


def flags_of(parser) -> tuple:
    """Every option string a command's parser takes (the subcommand's, for `cli_text`)."""
    return tuple(s for action in parser._actions for s in action.option_strings)


def _gist(message: str) -> str:
    """A finding without its figures: the same finding from two calls (a fit and its bootstrap,
    a table and a plot) differs only in its numbers."""
    return re.sub(r"[-+]?\d[\d.,e+-]*", "#", message)


class Findings:
    """Prints diagnostic warnings on stderr, each finding once per command (`seen` holds what was
    said), in the command's words; the lines printed are kept for summary.json."""

    def __init__(self, flags=()):
        self.flags = flags
        self.seen = set()
        self.lines = []

    def say(self, caught, categories=None) -> list[str]:
        """Prints the findings of `caught` (warnings.catch_warnings records) not yet said; only
        those of `categories` if given (default: every DiagnosticWarning). Returns the new lines."""
        import jscale

        wanted = categories or (jscale.warnings.DiagnosticWarning,)
        new = []
        for w in caught:
            if not issubclass(w.category, wanted):
                continue
            line = cli_text(str(w.message), self.flags)
            key = (w.category, _gist(line))
            if key in self.seen:
                continue
            self.seen.add(key)
            new.append(line)
            print(f"warning: {line}", file=sys.stderr)
        self.lines += new
        return new
