"""Click's usage errors (bad value, unknown option, missing argument, bad choice) as one `error:` line.

Click prints a usage block and `Error: Invalid value for '--epochs': ...` without
the value received; xornet prints one line that names what the user typed,
what was expected and what was received, like every other xornet error:

    error: --epochs ten: expected an integer, received 'ten' (hint: see xornet train --help)

The Typer app uses `OneLineErrorsGroup` as its group class, so every command,
run as `xornet` or in-process through typer's CliRunner, shows errors this way.
`--help` and a bare group (`xornet config`) still print their help.
"""

from __future__ import annotations

import difflib
import re

from typer._click import exceptions as click_errors  # typer's own copy of Click raises these
from typer.core import TyperGroup

from xornet.text import is_number

ARGV_KEY = "xornet.argv"  # ctx.meta key: the arguments the user typed, shared with every sub-context


class OneLineUsageError(click_errors.UsageError):
    """A usage error Click shows as `error: <message>` on stderr, exit code 2."""

    def show(self, file=None) -> None:
        click_errors.echo(f"error: {self.message}", err=True)


class OneLineErrorsGroup(TyperGroup):
    """The xornet group: usage errors of the group and of every subcommand become one line."""

    def parse_args(self, ctx, args):
        ctx.meta.setdefault(ARGV_KEY, list(args))
        try:
            return super().parse_args(ctx, args)
        except click_errors.UsageError as exc:
            raise _one_line(exc, ctx) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click_errors.UsageError as exc:
            raise _one_line(exc, ctx) from None


def _one_line(exc: click_errors.UsageError, group_ctx) -> click_errors.UsageError:
    if isinstance(exc, (click_errors.NoArgsIsHelpError, OneLineUsageError)):
        return exc  # a bare `xornet config` prints its help; an error already worded passes through
    ctx = exc.ctx or _subcommand_context(group_ctx)
    argv = group_ctx.meta.get(ARGV_KEY, [])
    return OneLineUsageError(usage_message(exc, ctx, argv), ctx)


def _subcommand_context(group_ctx):
    """The context of the subcommand being parsed when Click raised without one ("requires an argument")."""
    name = group_ctx.invoked_subcommand
    command = group_ctx.command.get_command(group_ctx, name) if name else None
    if command is None:
        return group_ctx
    return command.make_context(name, [], parent=group_ctx, resilient_parsing=True)


def usage_message(exc: click_errors.UsageError, ctx, argv: list[str]) -> str:
    """The one line for a Click usage error raised while parsing `argv` in `ctx`.

    Example:
        >>> usage_message(exc, ctx, ["train", "configs/xor.yaml", "--epochs", "ten"])
        "--epochs ten: expected an integer, received 'ten' (hint: see xornet train --help)"
    """
    command = ctx.command_path
    see = f"see {command} --help"
    if isinstance(exc, click_errors.MissingParameter) and exc.param is not None:
        name = _param_name(exc.param)
        kind = "argument" if exc.param.param_type_name == "argument" else "option"
        return (f"{command}: missing {kind} {name}, expected {_expected(exc.param)}, received nothing "
                f"(hint: usage: {_usage(ctx)}; {see})")
    if isinstance(exc, click_errors.BadParameter) and exc.param is not None:
        received = _received(exc, argv)
        typed = _typed_flag(exc.param, argv)
        return f"{typed} {received}: expected {_expected(exc.param)}, received {_shown(received)} (hint: {see})"
    if isinstance(exc, click_errors.NoSuchOption):
        options = [opt for param in ctx.command.params for opt in param.opts + param.secondary_opts
                   if opt.startswith("-") and not getattr(param, "hidden", False)]
        close = difflib.get_close_matches(exc.option_name, options, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}? {see}" if close else f"usage: {_usage(ctx)}; {see}"
        expected = f"expected one of {', '.join(options)}" if options else "it takes only --help"
        return f"{exc.option_name}: {command} has no such option, {expected}, received {exc.option_name!r} (hint: {hint})"
    if isinstance(exc, click_errors.BadOptionUsage) and exc.message.endswith("requires an argument."):
        param = _param_of_option(ctx, exc.option_name)
        expected = _expected(param) if param is not None else "a value"
        return f"{exc.option_name}: expected {expected} after it, received nothing (hint: {see})"
    extra = re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", exc.message)
    if extra:
        return (f"{command}: too many arguments, expected {_usage(ctx)}, received extra {extra.group(1)!r} "
                f"(hint: quote a value that holds spaces; {see})")
    unknown = re.fullmatch(r"No such command '(.*)'\..*", exc.message)
    if unknown or exc.message == "Missing command.":
        names = [name for name, cmd in ctx.command.commands.items() if not cmd.hidden]
        received = repr(unknown.group(1)) if unknown else "nothing"
        close = difflib.get_close_matches(unknown.group(1), names, n=1) if unknown else []
        hint = f"did you mean {close[0]}? {see}" if close else see
        return f"{command}: {'no such' if unknown else 'missing'} command, expected one of {', '.join(names)}, " \
               f"received {received} (hint: {hint})"
    return f"{command}: {exc.format_message()} (hint: {see})"


def _expected(param) -> str:
    """What a parameter takes, e.g. 'an integer >= 1', 'one of text, json', 'the experiment config (YAML)'."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "one of " + ", ".join(str(getattr(choice, "value", choice)) for choice in desc.choices)
    noun = {int: "an integer", float: "a number"}.get(desc.annotation)
    if noun is None and param.param_type_name == "option":
        return f"a value {param.metavar}" if param.metavar else "a value"
    if noun is None:
        text = (param.help or "a value").split(". ")[0].rstrip(".")
        return text[:1].lower() + text[1:]
    info = desc.parameter_info
    bounds = [f">= {info.min}" if info.min is not None else "", f"<= {info.max}" if info.max is not None else ""]
    return " ".join([noun, " and ".join(b for b in bounds if b)]).strip()


def _received(exc: click_errors.BadParameter, argv: list[str]) -> str:
    errors = getattr(exc.__cause__, "errors", None)
    if errors is not None and errors():
        return str(errors()[0].get("input"))
    return _values_of(exc.param, argv)[-1] if _values_of(exc.param, argv) else "?"


def _typed_flag(param, argv: list[str]) -> str:
    """The spelling of an option the user typed (-f or --format); an argument's name."""
    if param.param_type_name == "argument":
        return _param_name(param)
    typed = [opt for token in argv for opt in param.opts + param.secondary_opts if _is_option_token(token, opt)]
    return typed[-1] if typed else param.opts[0]


def _values_of(param, argv: list[str]) -> list[str]:
    values = []
    for at, token in enumerate(argv):
        for opt in param.opts:
            if token == opt and at + 1 < len(argv):
                values.append(argv[at + 1])
            elif token != opt and _is_option_token(token, opt):
                values.append(token[len(opt) + token.startswith(opt + "="):])
    return values


def _is_option_token(token: str, opt: str) -> bool:
    if token == opt or token.startswith(opt + "="):
        return True
    return len(opt) == 2 and not opt.startswith("--") and token.startswith(opt)  # -fjson


def _param_of_option(ctx, option: str):
    return next((param for param in ctx.command.params if option in param.opts + param.secondary_opts), None)


def _param_name(param) -> str:
    if param.param_type_name == "argument":
        return (param.metavar or param.name.upper()).rstrip(".")
    return param.opts[0]


def _usage(ctx) -> str:
    """The usage line without Click's braces: `xornet plot [OPTIONS] MODEL`."""
    pieces = " ".join(ctx.command.collect_usage_pieces(ctx))
    return f"{ctx.command_path} {re.sub(r'[{}]', '', pieces).replace('......', '...')}"


def _shown(value: str) -> str:
    """A received value as xornet shows it: numbers bare, text quoted."""
    return value if is_number(value) else repr(value)
