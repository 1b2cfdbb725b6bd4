"""Starts the local stack in order, says where everything is, and stops all of it on Ctrl-C or SIGTERM."""
from __future__ import annotations

import importlib
import logging
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TextIO

from chalicelib.local.env import HOST, PROJECT_ROOT, REGION, STAGE, LocalConfig, apply_environment, stage_environment

log = logging.getLogger("shopdesk_local")

API_READY_SECONDS = 45.0
PORT_VARIABLES = {
    "aws_port": "SHOPDESK_AWS_PORT", "api_port": "SHOPDESK_API_PORT", "smtp_port": "SHOPDESK_SMTP_PORT",
    "console_port": "SHOPDESK_CONSOLE_PORT", "delivery_port": "SHOPDESK_DELIVERY_PORT",
}


class StartupError(RuntimeError):
    """A part of the stack could not start; the message says which and what to do."""


def busy_ports(config: LocalConfig, api: bool) -> list[str]:
    busy = []
    for attribute, variable in PORT_VARIABLES.items():
        if attribute == "api_port" and not api:
            continue
        port = getattr(config, attribute)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                busy.append(f"{HOST}:{port} ({variable})")
    return busy


def _quietly(stop: Callable[[], None], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            stop()
        except Exception as exc:
            log.warning("stopping %s: %s", name, exc.__class__.__name__)

    return run


class Stack:
    """The whole local ShopDesk in this process (moto, delivery, schedules, SMTP, console) plus the API."""

    def __init__(self, config: LocalConfig, *, api: bool = True) -> None:
        self.config = config
        self.api_enabled = api
        self.api: Any = None
        self.registry: Any = None
        self.key: Any = None
        self.workers: dict[str, Any] = {}
        self.skipped: list[str] = []
        self._exit = ExitStack()

    def _started(self, component: Any, name: str) -> None:
        component.start()
        self._exit.callback(_quietly(component.stop, name))

    def start(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Starts every part; on failure stops what started and raises StartupError."""
        try:
            self._start(cancelled)
        except OSError as exc:
            self.stop()
            raise StartupError(f"could not start: {exc}") from exc
        except BaseException:
            self.stop()
            raise

    def _start(self, cancelled: Callable[[], bool]) -> None:
        config = self.config
        busy = busy_ports(config, self.api_enabled)
        if busy:
            raise StartupError("ports in use: " + ", ".join(busy) + "; stop what uses them or set the variables")
        from chalicelib.local.keys import ensure_key

        self.key = ensure_key(config.state_dir)
        apply_environment(stage_environment(config))

        from chalicelib.local.aws import MotoServer, client

        self._started(MotoServer(config.aws_port), "moto")

        from chalicelib.config import settings
        from chalicelib.local.provision import provision
        from chalicelib.resources import ResourceNames

        store = settings()
        names = ResourceNames(STAGE)

        def aws(service: str) -> Any:
            return client(service, config.aws_url)

        provisioned = provision(aws, names, REGION, store.support_addresses)
        self.skipped += provisioned.skipped
        app = self._load_app()
        self._start_delivery(app, aws, provisioned)
        self._start_smtp(aws, provisioned, store.support_addresses, store.max_mail_bytes)
        if self.api_enabled:
            self._start_api(cancelled)
        else:
            self.skipped.append("api (--no-api)")
        self._start_console(aws, provisioned)

    @staticmethod
    def _load_app() -> Any:
        if str(PROJECT_ROOT) not in sys.path:
            sys.path.insert(0, str(PROJECT_ROOT))
        return importlib.import_module("app").app

    def _start_delivery(self, app: Any, aws: Callable[[str], Any], provisioned: Any) -> None:
        from chalicelib.local.delivery import FunctionWorker, Scheduler, SnsReceiver
        from chalicelib.local.registry import discover

        self.registry = registry = discover(app)
        wanted = set(registry.subscriptions.values()) | set(registry.schedules)
        self.workers = {name: FunctionWorker(name, app.handler_map[name]) for name in sorted(wanted)
                        if name in app.handler_map}
        for worker in self.workers.values():
            self._started(worker, f"function {worker.name}")
        sns = aws("sns")

        def confirm(topic_arn: str, token: str) -> None:
            sns.confirm_subscription(TopicArn=topic_arn, Token=token)

        receiver = SnsReceiver(self.config.delivery_port, self.workers, confirm)
        self._started(receiver, "SNS delivery")
        for topic, function in registry.subscriptions.items():
            arn = provisioned.topic_arns.get(topic) or sns.create_topic(Name=topic)["TopicArn"]
            sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=receiver.endpoint(self.config.delivery_url, function),
                          ReturnSubscriptionArn=True)
        self.scheduler = Scheduler(registry.schedules.values(), self.workers, region=REGION,
                                   rule_prefix=provisioned.names.prefix, speedup=self.config.schedule_speedup)
        self._started(self.scheduler, "scheduler")

    def _start_smtp(self, aws: Callable[[str], Any], provisioned: Any, addresses: Any, max_bytes: int) -> None:
        from chalicelib.local.smtp import ReceiptTarget, SesLikeReceiver, SmtpServer

        target = ReceiptTarget(provisioned.bucket, provisioned.inbound_prefix, provisioned.inbound_email_topic_arn)
        self._started(SmtpServer(SesLikeReceiver(addresses, target, aws("s3"), aws("sns")),
                                 self.config.smtp_port, max_bytes), "SMTP")

    def _start_api(self, cancelled: Callable[[], bool]) -> None:
        from chalicelib.local.api import ApiProcess

        self.api = api = ApiProcess(self.config.api_port)
        self._started(api, "API")
        if not api.wait_ready(API_READY_SECONDS, cancelled) and not cancelled():
            raise StartupError("`chalice local` did not start (its output is above)")

    def _start_console(self, aws: Callable[[str], Any], provisioned: Any) -> None:
        import json

        from chalicelib.local.aws import sent_records
        from chalicelib.local.console import Console, ConsoleDeps
        from chalicelib.local.outbox import Outbox

        sns = aws("sns")
        sms_topic = provisioned.inbound_sms_topic_arn

        def publish_sms(document: dict[str, Any]) -> None:
            sns.publish(TopicArn=sms_topic, Message=json.dumps(document))

        sms_functions = [f for t, f in self.registry.subscriptions.items() if t == provisioned.names.inbound_sms_topic]
        deps = ConsoleDeps(outbox=Outbox(lambda: sent_records(REGION), REGION), key=self.key,
                           publish_sms=publish_sms, sms_functions=sms_functions, scheduler=self.scheduler,
                           links=self.links())
        self._started(Console(self.config.console_port, deps), "console")

    def links(self) -> dict[str, str]:
        c = self.config
        links = {
            "console": f"{c.console_url}/", "outbox (JSON)": f"{c.console_url}/outbox",
            "SMTP (mail to support@… here)": f"smtp://{HOST}:{c.smtp_port}",
            "AWS emulator (moto)": c.aws_url, "SNS delivery": c.delivery_url,
        }
        if self.api_enabled:
            links = {"API": c.api_url, **links}
        return links

    def banner(self, out: TextIO) -> None:
        from chalicelib.local.keys import sign_token
        from chalicelib.local.logs import log_path

        print("\nShopDesk is running on this machine (stage 'local'):", file=out)
        for name, url in self.links().items():
            print(f"  {name:<30} {url}", file=out)
        print(f"  {'JWT public key (authorizer)':<30} {self.config.public_key_path}  kid={self.key.kid}", file=out)
        print(f"  {'full logs and metrics (JSON)':<30} {log_path(self.config.state_dir)}", file=out)
        registry = self.registry
        handled = ", ".join(f"{t} -> {f}" for t, f in registry.subscriptions.items()) or "none"
        print(f"  {'SNS topics delivered':<30} {handled}", file=out)
        schedules = ", ".join(f"{s.name} {s.expression}" for s in registry.schedules.values())
        print(f"  {'schedules':<30} {schedules or 'none declared yet (POST /schedules/<name> runs one)'}", file=out)
        if self.skipped:
            print(f"  {'not set up':<30} {', '.join(self.skipped)}", file=out)
        for role in ("agent", "manager"):
            print(f"\n{role} token (12 h):\n{sign_token(self.key, role)}", file=out)
        send = ("import smtplib; smtplib.SMTP('127.0.0.1', {port}).sendmail('you@customer.example', "
                "['support@shop.example'], b'Subject: Hello\\r\\n\\r\\nWhere is my order?')")
        print(f"\nTry:  python -c \"{send.format(port=self.config.smtp_port)}\"", file=out)
        print(f"      curl {self.config.console_url}/outbox", file=out)
        print("Ctrl-C stops everything. Below: one line per event (mail, SMS, tickets, acknowledgements, sweeps).\n",
              file=out, flush=True)

    def stop(self) -> None:
        """Stops in reverse order of starting; safe to call twice."""
        self._exit.close()


def main(argv: list[str] | None = None) -> int:
    import argparse
    import signal

    from chalicelib.local.env import LocalConfigError

    parser = argparse.ArgumentParser(prog="python -m chalicelib.local", description="ShopDesk on this machine.")
    parser.add_argument("--demo", action="store_true", help="seed a few customers and tickets through SMTP")
    parser.add_argument("--no-api", action="store_true", help="do not start `chalice local`")
    args = parser.parse_args(argv)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        config = LocalConfig.from_environ()
    except LocalConfigError as exc:
        print(f"shopdesk local: {exc}", file=sys.stderr)
        return 2
    from chalicelib.local.logs import install

    apply_environment(stage_environment(config))  # the service's logger reads the stage's settings
    install(config.state_dir)
    stack = Stack(config, api=not args.no_api)
    try:
        stack.start(cancelled=stopping.is_set)
    except StartupError as exc:
        print(f"shopdesk local: {exc}", file=sys.stderr)
        return 1
    try:
        if not stopping.is_set():
            stack.banner(sys.stdout)
            if args.demo:
                from chalicelib.local.demo import seed

                print(f"demo: {seed(config.smtp_port)} mails sent; acknowledgements appear in the outbox",
                      flush=True)
        api_reported = False
        while not stopping.wait(0.5):
            if stack.api is not None and not stack.api.alive() and not api_reported:
                log.error("the API process ended; the rest keeps running (restart to get it back)")
                api_reported = True
    finally:
        print("stopping…", file=sys.stderr, flush=True)
        stack.stop()
    print("stopped.", file=sys.stderr, flush=True)
    return 0
