//! The deployment files of `deploy/` against the binary they deploy. No Kubernetes schema
//! validator ships in Debian (no kubeconform, no kubeval; its kubectl needs a cluster to
//! validate), so the manifests are parsed here and their cross-references checked: ports,
//! probe paths, mount paths, Secret keys and environment names, the drain's timings; and
//! their routes.yaml is served by the real process with the Secret's variables, its probes
//! answered, its token required and its password-less PostgreSQL URL connected.

use std::path::PathBuf;

use serde_json::Value as Json;
use serde_yaml::Value;

use crate::support::demo::repo;
use crate::support::process::StranglerProcess;
use crate::support::scratch::Scratch;
use crate::support::Backend;
use strangler_control::testing::PostgresDatabase;

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

/// Every document of every manifest in deploy/kubernetes.
fn manifests() -> Vec<Value> {
    let dir = std::fs::read_dir(deploy("kubernetes")).expect("deploy/kubernetes");
    let mut documents = Vec::new();
    for entry in dir {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("manifest");
        for document in serde_yaml::Deserializer::from_str(&text) {
            documents.push(serde::Deserialize::deserialize(document).expect("YAML"));
        }
    }
    documents
}

/// The one manifest of `kind`.
fn manifest(kind: &str) -> Value {
    let mut found = manifests().into_iter().filter(|m| m["kind"] == kind);
    let first = found.next().unwrap_or_else(|| panic!("no {kind}"));
    assert!(found.next().is_none(), "two {kind}s");
    first
}

fn container() -> Value {
    manifest("Deployment")["spec"]["template"]["spec"]["containers"][0].clone()
}

/// The routes.yaml text of the ConfigMap.
fn routes_text() -> String {
    let map = manifest("ConfigMap");
    map["data"]["routes.yaml"]
        .as_str()
        .expect("routes.yaml key")
        .to_owned()
}

fn routes() -> Value {
    serde_yaml::from_str(&routes_text()).expect("routes.yaml parses")
}

fn port(address: &Value) -> u64 {
    let text = address.as_str().expect("an address");
    text.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port")
}

fn seconds(duration: &Value) -> u64 {
    let text = duration.as_str().expect("a duration");
    let (figure, unit) = text.split_at(text.len() - 1);
    let figure: u64 = figure.parse().expect("whole seconds or minutes");
    figure * if unit == "m" { 60 } else { 1 }
}

/// The container port named `name`.
fn container_port(name: &str) -> u64 {
    let ports = container()["ports"].as_sequence().expect("ports").clone();
    let named = ports.iter().find(|p| p["name"] == name);
    named
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no {name} port"))
}

/// The mount path of volume `name`, and whether it is read-only.
fn mount(name: &str) -> (String, bool) {
    let mounts = container()["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .clone();
    let found = mounts.iter().find(|m| m["name"] == name).expect("mounted");
    let path = found["mountPath"].as_str().expect("mountPath").to_owned();
    (path, found["readOnly"] == true)
}

#[test]
fn the_deployment_reads_routes_yaml_where_the_configmap_is_mounted_read_only() {
    let args: Vec<String> = serde_yaml::from_value(container()["args"].clone()).expect("args");
    let config = args
        .iter()
        .skip_while(|a| *a != "--config")
        .nth(1)
        .expect("--config");
    let (path, read_only) = mount("routes");
    assert_eq!(config, &format!("{path}/routes.yaml"));
    assert!(read_only);
    let volumes = manifest("Deployment")["spec"]["template"]["spec"]["volumes"].clone();
    let volume = volumes
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "routes");
    let map = &volume.expect("routes volume")["configMap"]["name"];
    assert_eq!(*map, manifest("ConfigMap")["metadata"]["name"]);
    let (state, read_only) = mount("state");
    let cache = routes()["store_cache"]
        .as_str()
        .expect("store_cache")
        .to_owned();
    assert!(
        cache.starts_with(&format!("{state}/")) && !read_only,
        "{cache} not in {state}"
    );
}

#[test]
fn the_ports_probes_and_scrape_port_are_those_routes_yaml_listens_on() {
    let routes = routes();
    assert_eq!(container_port("http"), port(&routes["listen"]));
    assert_eq!(container_port("admin"), port(&routes["admin"]));
    let pod = manifest("Deployment")["spec"]["template"].clone();
    let scrape = pod["metadata"]["annotations"]["prometheus.io/port"]
        .as_str()
        .expect("port");
    assert_eq!(scrape, container_port("admin").to_string());
    let (readiness, liveness) = (
        &container()["readinessProbe"],
        &container()["livenessProbe"],
    );
    assert_eq!(readiness["httpGet"]["path"], "/readyz");
    assert_eq!(liveness["httpGet"]["path"], "/healthz");
    assert_eq!(readiness["httpGet"]["port"], "admin");
    assert_eq!(liveness["httpGet"]["port"], "admin");
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).expect("Dockerfile");
    let expose = dockerfile
        .lines()
        .find(|l| l.starts_with("EXPOSE "))
        .expect("EXPOSE");
    assert_eq!(
        expose,
        format!(
            "EXPOSE {} {}",
            container_port("http"),
            container_port("admin")
        )
    );
}

#[test]
fn the_secret_has_every_key_the_deployment_reads_and_the_binary_reads_those_variables() {
    let secret = manifest("Secret");
    let env = container()["env"].as_sequence().expect("env").clone();
    let mut names = Vec::new();
    for variable in &env {
        let reference = &variable["valueFrom"]["secretKeyRef"];
        assert_eq!(
            reference["name"], secret["metadata"]["name"],
            "{variable:?}"
        );
        let key = reference["key"].as_str().expect("key");
        assert!(
            secret["stringData"][key].is_string(),
            "the Secret has no {key}"
        );
        names.push(variable["name"].as_str().expect("name").to_owned());
    }
    // The two the live test below proves the binary reads.
    assert_eq!(names, ["STRANGLER_ADMIN_TOKEN", "PGPASSWORD"]);
}

#[test]
fn termination_grace_covers_the_pre_stop_wait_and_the_whole_drain() {
    let pod = manifest("Deployment")["spec"]["template"]["spec"].clone();
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    let pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64();
    let pre_stop = pre_stop.expect("a preStop sleep");
    let drain = seconds(&routes()["shutdown_grace"]);
    assert!(
        pre_stop >= 5,
        "endpoints need a few seconds to drop the pod"
    );
    assert!(
        grace >= pre_stop + drain + 5,
        "{grace} < {pre_stop} + {drain} + 5"
    );
}

#[test]
fn the_service_and_the_disruption_budget_select_the_deployments_pods() {
    let deployment = manifest("Deployment");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let service = manifest("Service");
    assert_eq!(service["spec"]["selector"], *labels);
    for port in service["spec"]["ports"].as_sequence().expect("ports") {
        let target = port["targetPort"].as_str().expect("a named target port");
        container_port(target);
    }
    let budget = manifest("PodDisruptionBudget");
    assert_eq!(budget["spec"]["selector"]["matchLabels"], *labels);
    let replicas = deployment["spec"]["replicas"].as_u64().expect("replicas");
    assert!(
        budget["spec"]["maxUnavailable"]
            .as_u64()
            .expect("maxUnavailable")
            < replicas
    );
}

#[test]
fn the_kustomization_lists_every_other_manifest() {
    let mut listed: Vec<String> =
        serde_yaml::from_value(manifest("Kustomization")["resources"].clone()).expect("list");
    listed.push("kustomization.yaml".to_owned());
    listed.sort();
    let dir = std::fs::read_dir(deploy("kubernetes")).expect("deploy/kubernetes");
    let mut files: Vec<String> = dir
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(listed, files);
}

#[test]
fn the_image_runs_as_the_non_root_user_the_pod_requires_and_ships_the_binary_alone() {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).expect("Dockerfile");
    let runtime = dockerfile.rsplit("\nFROM ").next().expect("a last stage");
    let copies: Vec<&str> = runtime.lines().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].ends_with("/target/production/strangler /usr/local/bin/strangler"));
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let security = &manifest("Deployment")["spec"]["template"]["spec"]["securityContext"];
    let uid = security["runAsUser"].as_u64().expect("runAsUser");
    assert_eq!(user, format!("{uid}:{uid}"));
    assert!(uid != 0 && security["runAsNonRoot"] == true);
}

#[test]
fn the_systemd_unit_reloads_on_sighup_upgrades_a_replaced_binary_and_outlasts_the_drain() {
    let unit = std::fs::read_to_string(deploy("systemd/strangler.service")).expect("unit");
    let value = |key: &str| {
        let prefix = format!("{key}=");
        let line = unit.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
        line.unwrap_or_else(|| panic!("no {key}=")).to_owned()
    };
    assert_eq!(value("Type"), "notify");
    assert_eq!(value("NotifyAccess"), "all");
    let start = value("ExecStart");
    let reload = value("ExecReload");
    let config = start.split_once(" run ").expect("run").1;
    assert!(
        reload.contains(&format!("run --upgrade {config} &")),
        "{reload}"
    );
    for piece in [
        "/proc/$MAINPID/exe",
        "kill -QUIT $MAINPID",
        "kill -HUP $MAINPID",
    ] {
        assert!(reload.contains(piece), "{piece} not in {reload}");
    }
    let stop: u64 = value("TimeoutStopSec").parse().expect("seconds");
    assert!(
        stop > 30,
        "TimeoutStopSec {stop} is not above the default shutdown_grace"
    );
}

/// The ConfigMap's routes.yaml with its listeners on port 0, its upstreams on `legacy` and
/// `billing`, its store on `database` without the password, and its cache in `scratch`.
fn local_routes(scratch: &Scratch, backends: &[Backend; 2], database: &str) -> PathBuf {
    let (scheme, rest) = database.split_once("://").expect("a URL");
    let (credentials, place) = rest.split_once('@').expect("user and password");
    let user = credentials.split(':').next().expect("a user");
    let mut text = routes_text();
    for (from, to) in [
        ("0.0.0.0:8080", "127.0.0.1:0".to_owned()),
        ("0.0.0.0:9180", "127.0.0.1:0".to_owned()),
        ("http://legacy.shop.svc.cluster.local:80", backends[0].url()),
        (
            "http://billing.shop.svc.cluster.local:80",
            backends[1].url(),
        ),
        (
            "postgres://strangler@postgres.shop.svc.cluster.local:5432/strangler",
            format!("{scheme}://{user}@{place}"),
        ),
        ("/var/lib/strangler", scratch.path().display().to_string()),
    ] {
        assert!(text.contains(from), "the ConfigMap no longer has {from}");
        text = text.replace(from, &to);
    }
    scratch.write("routes.yaml", &text)
}

fn password(database: &str) -> String {
    let credentials = database
        .split_once("://")
        .and_then(|(_, r)| r.split_once('@'));
    let password = credentials
        .and_then(|(c, _)| c.split_once(':'))
        .map(|(_, p)| p);
    password
        .expect("the test database URL has a password")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_config_serves_with_the_secrets_variables_and_a_password_less_store_url() {
    let database = PostgresDatabase::create().await;
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let scratch = Scratch::new();
    let config = local_routes(&scratch, &backends, database.url());
    let env = [
        ("STRANGLER_ADMIN_TOKEN", "fleet-token"),
        ("PGPASSWORD", &*password(database.url())),
    ];
    let process = StranglerProcess::run_with_env(&config, &[], &env);
    process.serving().await;
    assert_eq!(process.admin_status("/readyz").await, Some(200));
    assert_eq!(process.admin_status("/healthz").await, Some(200));
    assert_eq!(process.admin_status("/admin/config").await, Some(401));
    let admin = process.admin();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answer = client
        .get(format!("http://{admin}/admin/config"))
        .bearer_auth("fleet-token")
        .send()
        .await
        .expect("admin config");
    assert_eq!(answer.status(), 200);
    let report: Json = answer.json().await.expect("JSON");
    assert_eq!(report["flag_store"]["state"], "connected", "{report}");
}
