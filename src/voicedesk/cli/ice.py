"""``voicedesk ice …``: probe an ICE configuration, list presets, import/export, mint TURN credentials."""

from __future__ import annotations

import argparse
import json
import os
import sys

from voicedesk.config import import_preset, list_presets, resolve_ice
from voicedesk.errors import ConfigError
from voicedesk.limits import DAY_S, count, seconds
from voicedesk.rtc.ice_probe import DEFAULT_TIMEOUT, format_report, probe
from voicedesk.rtc.turn_credentials import DEFAULT_TTL, mint

SECRET_ENV = "VOICEDESK_TURN_SECRET"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ice", help="probe ICE configurations, list presets, mint TURN credentials")
    ice = p.add_subparsers(dest="ice_command", metavar="ACTION", required=True)

    pr = ice.add_parser("probe", help="gather candidates and ask every STUN/TURN server what it thinks")
    pr.add_argument("--ice", metavar="CONFIG.json|PRESET", help="RTCConfiguration JSON file or preset name")
    pr.add_argument("--relay-only", action="store_true", help='probe with iceTransportPolicy "relay"')
    pr.add_argument(
        "--timeout",
        type=seconds(above=0, maximum=DAY_S),
        default=DEFAULT_TIMEOUT,
        help=f"seconds per server (default {DEFAULT_TIMEOUT:g})",
    )
    pr.add_argument("--no-rtt", action="store_true", help="skip the round trip through each TURN relay")
    pr.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    pr.set_defaults(run=run_probe)

    ps = ice.add_parser("presets", help="list the ICE presets (built in and imported)")
    ps.add_argument("--json", action="store_true", help="print the presets as JSON (credentials redacted)")
    ps.set_defaults(run=run_presets)

    ex = ice.add_parser("export", help="write a configuration or preset as JSON, credentials redacted")
    ex.add_argument("config", metavar="CONFIG.json|PRESET")
    ex.add_argument("--relay-only", action="store_true", help='export with iceTransportPolicy "relay"')
    ex.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    ex.set_defaults(run=run_export)

    im = ice.add_parser("import", help="validate a configuration file and keep it as a named preset")
    im.add_argument("file", metavar="CONFIG.json")
    im.add_argument("--name", help="preset name (default: the file name without .json)")
    im.set_defaults(run=run_import)

    cr = ice.add_parser("credentials", help="mint ephemeral TURN credentials (coturn use-auth-secret)")
    cr.add_argument("--secret", help=f"the TURN server's static-auth-secret (or set ${SECRET_ENV})")
    cr.add_argument("--name", default="voicedesk", help="who the credentials are for (default voicedesk)")
    cr.add_argument(
        "--ttl", type=count(minimum=1), default=DEFAULT_TTL, help=f"seconds of validity (default {DEFAULT_TTL})"
    )
    cr.add_argument("--url", action="append", default=[], help="TURN URL(s): print an iceServers entry")
    cr.add_argument("--json", action="store_true", help="print username, credential and expiry as JSON")
    cr.set_defaults(run=run_credentials)


def _warn(warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        print(f"voicedesk: warning: {warning}", file=sys.stderr)


async def run_probe(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise ConfigError("--timeout must be > 0")
    config = resolve_ice(args.ice, relay_only=args.relay_only)
    report = await probe(config, timeout_s=args.timeout, measure_rtt=not args.no_rtt)
    if args.json:
        print(json.dumps(report.to_json()), flush=True)
    else:
        print(format_report(report))
    return 0 if report.ok else 1


def run_presets(args: argparse.Namespace) -> int:
    presets = list_presets()
    if args.json:
        out = [
            {
                "name": p.name,
                "description": p.description,
                "template": p.template,
                "builtin": p.builtin,
                "config": p.config.to_json(redact=True),
            }
            for p in presets
        ]
        print(json.dumps(out))
        return 0
    for p in presets:
        origin = "built in" if p.builtin else f"imported, {p.path}"
        kind = ", template" if p.template else ""
        print(f"{p.name:<14} {p.description}  ({origin}{kind})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    config = resolve_ice(args.config, relay_only=args.relay_only)
    if args.output:
        config.export(args.output)
        print(f"wrote {args.output} (credentials redacted)", file=sys.stderr)
    else:
        sys.stdout.write(config.to_text(redact=True))
    return 0


def run_import(args: argparse.Namespace) -> int:
    preset = import_preset(args.file, args.name)
    _warn(preset.config.warnings)
    print(f"imported preset {preset.name!r} ({preset.path}); use it with --ice {preset.name}")
    return 0


def run_credentials(args: argparse.Namespace) -> int:
    secret = args.secret or os.environ.get(SECRET_ENV)
    if not secret:
        raise ConfigError(f"give the TURN server's shared secret with --secret or ${SECRET_ENV}")
    if args.ttl <= 0:
        raise ConfigError("--ttl must be a positive number of seconds")
    creds = mint(secret, args.name, args.ttl)
    if args.json or args.url:
        out: dict[str, object] = (
            creds.ice_server(args.url[0] if len(args.url) == 1 else args.url)
            if args.url
            else {"username": creds.username, "credential": creds.credential}
        )
        out["expires_at"] = creds.expires_at
        print(json.dumps(out))
    else:
        print(f"username   {creds.username}\ncredential {creds.credential}\nexpires    {creds.expires_at} (unix time)")
    return 0
