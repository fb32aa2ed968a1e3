"""The broker's security jobs, as docker-compose runs them (``casemesh`` image):

    python -m deploy.kafka tls --dir /etc/casemesh/kafka-tls --ca-dir /etc/casemesh/kafka-ca \\
        --hosts kafka,localhost --key-password-env CASEMESH_KAFKA_KEY_PASSWORD
    python -m deploy.kafka setup --bootstrap-servers kafka:9092 --ca-file /etc/casemesh/kafka-ca/ca.pem \\
        --admin-password-env CASEMESH_KAFKA_PASSWORD_ADMIN
    python -m deploy.kafka acls

``tls`` makes a CA and the broker's certificate (once; a second run keeps them) and throws the
CA's key away; ``setup`` creates every registered topic (``CASEMESH_TOPIC_PARTITIONS`` partitions,
``CASEMESH_TOPIC_REPLICATION_FACTOR`` replicas), sets each one's configuration (retention,
timestamps: kit/topic_configs.py) whether it is new or not, and the ACL table, as the admin super
user, waiting for the broker; ``acls`` prints the table.
Passwords come from environment variables named by the options, never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from contracts.topics import TOPICS
from deploy.kafka import acls, tls
from kit.settings import topic_partitions
from kit.topic_configs import replication_factor, topic_configs
from kit.transport import ADMIN, KafkaCluster


def topics_to_create() -> list[str]:
    """Every registered topic (the services' input topics must all exist with one partition count)."""
    return list(TOPICS)


def make_tls(args: argparse.Namespace) -> None:
    password = os.environ.get(args.key_password_env) if args.key_password_env else None
    if args.key_password_env and not password:
        raise SystemExit(f"{args.key_password_env} is not set")
    hosts = [h for h in args.hosts.split(",") if h]
    made = tls.ensure(
        Path(args.dir), hosts, keep_ca_key=False, key_mode=int(args.key_mode, 8), key_password=password
    )
    if args.ca_dir:
        Path(args.ca_dir).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made.ca_file, Path(args.ca_dir) / "ca.pem")
    print(f"broker TLS in {made.folder} for {', '.join(hosts)}")


async def _setup_once(cluster: KafkaCluster, partitions: int, replicas: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(**cluster.options(ADMIN), request_timeout_ms=15_000)
    try:
        await admin.start()
        for name in topics_to_create():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, partitions, replicas, topic_configs=topic_configs(TOPICS[name]))]
                )
        await configure_topics(admin, topics_to_create())
        await acls.create_acls(admin)
    finally:
        await admin.close()


async def configure_topics(admin: Any, names: list[str]) -> None:
    """Sets every topic's configuration to kit/topic_configs.py's, created now or long ago: a topic
    made before its retention was decided (7 days, the broker's default) keeps records from then on.
    AlterConfigs replaces a topic's whole set, so this is the topic's configuration afterwards."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    resources = [ConfigResource(ConfigResourceType.TOPIC, n, topic_configs(TOPICS[n])) for n in names]
    refused = [
        f"{name}: {code} {message}"
        for response in await admin.alter_configs(resources)
        for code, message, _type, name in response.resources
        if code
    ]
    if refused:
        raise RuntimeError(f"{len(refused)} topic configurations were refused, e.g. {refused[0]}")


async def setup(cluster: KafkaCluster, partitions: int, replicas: int = 1, attempts: int = 60) -> None:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            await _setup_once(cluster, partitions, replicas)
            return
        except Exception as exc:  # the broker may still be starting
            last = exc
            await asyncio.sleep(2)
    raise SystemExit(f"setup failed: {type(last).__name__}: {last}")


def run_setup(args: argparse.Namespace) -> None:
    password = os.environ.get(args.admin_password_env, "")
    if not password:
        raise SystemExit(f"{args.admin_password_env} is not set")
    cluster = KafkaCluster(
        bootstrap_servers=args.bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        ssl_cafile=args.ca_file,
        passwords={ADMIN: SecretStr(password)},
    )
    partitions = int(args.partitions or topic_partitions())
    replicas = args.replication_factor or replication_factor()
    asyncio.run(setup(cluster, partitions, replicas))
    print(
        f"{len(topics_to_create())} topics ({partitions} partitions, {replicas} replicas each) "
        f"and {len(acls.acl_table())} ACLs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.kafka", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("tls", help="the CA and the broker's certificate")
    made.add_argument("--dir", required=True, help="the broker's key store and the CA certificate")
    made.add_argument("--ca-dir", help="a second folder that gets only the CA certificate (for clients)")
    made.add_argument("--hosts", default="127.0.0.1,localhost", help="the broker's names, comma-separated")
    made.add_argument("--key-password-env", help="variable holding the key password (else a random one)")
    made.add_argument("--key-mode", default="600", help="octal mode of the (encrypted) key file")
    set_up = commands.add_parser("setup", help="every registered topic and the ACL table")
    set_up.add_argument("--bootstrap-servers", required=True)
    set_up.add_argument("--ca-file", required=True)
    set_up.add_argument("--admin-password-env", required=True)
    set_up.add_argument("--partitions", type=int, help="default: CASEMESH_TOPIC_PARTITIONS, else 6")
    set_up.add_argument(
        "--replication-factor", type=int, help="default: CASEMESH_TOPIC_REPLICATION_FACTOR, else 1"
    )
    commands.add_parser("acls", help="print the ACL table")
    args = parser.parse_args(argv)
    if args.command == "tls":
        make_tls(args)
    elif args.command == "setup":
        run_setup(args)
    else:
        print(acls.table_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
