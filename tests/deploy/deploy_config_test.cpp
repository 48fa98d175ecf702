// The deployment files in deploy/ cannot be run here (no container engine), so this test checks
// what can be checked without one: every configuration they give a node — the image's baked-in file
// and ENV, each compose service's file and environment, the Kubernetes ConfigMap's node.ini with
// each pod's variables — is accepted by the real `nca-node --check-config`, started with exactly
// that environment; and the files agree with each other and with the configuration (ports exposed
// and probed, data volume, distinct node ids, seeds naming every node).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/deploy/mini_yaml.hpp"

namespace nca::deploy_test {
namespace {

const std::string kBin = NCA_BIN_DIR;
const std::string kSource = NCA_SOURCE_DIR;
const std::string kDeploy = kSource + "/deploy";

using Env = std::map<std::string, std::string>;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct RunResult {
  int exit_code = -1;
  std::string output;
};

// Runs nca-node with `args` and exactly `env` as its environment (nothing inherited from the test),
// stdout and stderr captured; killed after 30 s.
RunResult run_node(const std::vector<std::string>& args, const Env& env) {
  RunResult result;
  std::vector<std::string> argv{kBin + "/nca-node"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envp;
  for (const auto& [k, v] : env) envp.push_back(k + "=" + v);
  int out[2];
  if (pipe(out) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(out[0]);
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(s.data());
    for (auto& s : envp) e.push_back(s.data());
    a.push_back(nullptr);
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  close(out[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  if (std::chrono::steady_clock::now() >= deadline) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// `nca-node --print-config` output as "section.key" -> value.
std::map<std::string, std::string> parse_printed_config(const std::string& text) {
  std::map<std::string, std::string> values;
  std::string section;
  std::istringstream lines(text);
  std::string line;
  static const std::regex kSection(R"(^\[([a-z]+)\]$)");
  static const std::regex kEntry(R"(^([a-z0-9-]+) = (.*?)  ; [a-z ]+$)");
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, kSection)) {
      section = m[1];
    } else if (std::regex_match(line, m, kEntry)) {
      std::string value = m[2];
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      values[section + "." + m[1].str()] = value;
    }
  }
  return values;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::string port_of(const std::string& host_port) {
  return host_port.substr(host_port.rfind(':') + 1);
}

// Checks one node's configuration as the deployment gives it: `env` is its whole environment, with
// NCA_CONFIG already pointing at the file on this machine. Returns the effective settings.
std::map<std::string, std::string> check_accepted(const Env& env, const std::string& what,
                                                  const std::vector<std::string>& args = {}) {
  SCOPED_TRACE(what);
  std::vector<std::string> check = args;
  check.push_back("--check-config");
  RunResult checked = run_node(check, env);
  EXPECT_EQ(checked.exit_code, 0) << what << " is refused:\n" << checked.output;
  auto config = env.find("NCA_CONFIG");
  if (config != env.end()) {
    EXPECT_NE(checked.output.find("configuration OK (" + config->second + ")"), std::string::npos)
        << what << ": the config file was not read:\n"
        << checked.output;
  }
  std::vector<std::string> print = args;
  print.push_back("--print-config");
  RunResult printed = run_node(print, env);
  EXPECT_EQ(printed.exit_code, 0) << printed.output;
  return parse_printed_config(printed.output);
}

// --- Dockerfile --------------------------------------------------------------------------------

struct Dockerfile {
  struct Stage {
    std::string from;
    std::string name;
    Env env;
    std::map<std::string, std::string> copies;  // destination -> source (COPY without --from)
    std::vector<std::string> runs;
    std::set<std::string> exposed;
    std::vector<std::string> volumes;
    std::string user;
    std::string healthcheck;
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
  };
  std::vector<Stage> stages;
};

std::vector<std::string> json_array(const std::string& text) {
  std::vector<std::string> items;
  static const std::regex kItem(R"re("((?:[^"\\]|\\.)*)")re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kItem);
       it != std::sregex_iterator(); ++it) {
    items.push_back((*it)[1]);
  }
  return items;
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

Dockerfile parse_dockerfile(const std::string& text) {
  Dockerfile file;
  std::vector<std::string> instructions;
  std::string current;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string trimmed = line.substr(std::min(line.size(), line.find_first_not_of(' ')));
    if (current.empty() && (trimmed.empty() || trimmed[0] == '#')) continue;
    if (!trimmed.empty() && trimmed[0] == '#') continue;  // comment inside a continuation
    if (!line.empty() && line.back() == '\\') {
      current += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    current += line;
    instructions.push_back(current);
    current.clear();
  }
  for (const std::string& ins : instructions) {
    std::string trimmed = ins.substr(ins.find_first_not_of(' '));
    size_t space = trimmed.find(' ');
    std::string op = trimmed.substr(0, space);
    std::string rest = space == std::string::npos ? "" : trimmed.substr(space + 1);
    if (op == "FROM") {
      auto w = words(rest);
      Dockerfile::Stage stage;
      stage.from = w.empty() ? "" : w[0];
      if (w.size() == 3) stage.name = w[2];
      file.stages.push_back(stage);
      continue;
    }
    if (file.stages.empty()) continue;  // ARG before FROM
    Dockerfile::Stage& stage = file.stages.back();
    if (op == "ENV") {
      static const std::regex kPair(R"re(([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*))re");
      for (auto it = std::sregex_iterator(rest.begin(), rest.end(), kPair);
           it != std::sregex_iterator(); ++it) {
        std::string value = (*it)[2];
        if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
        stage.env[(*it)[1]] = value;
      }
    } else if (op == "COPY") {
      auto w = words(rest);
      if (w.size() == 2 && w[0].rfind("--", 0) != 0) stage.copies[w[1]] = w[0];
    } else if (op == "RUN") {
      stage.runs.push_back(rest);
    } else if (op == "EXPOSE") {
      for (const std::string& port : words(rest)) stage.exposed.insert(port);
    } else if (op == "VOLUME") {
      stage.volumes = rest.find('[') != std::string::npos ? json_array(rest) : words(rest);
    } else if (op == "USER") {
      stage.user = rest;
    } else if (op == "HEALTHCHECK") {
      stage.healthcheck = rest;
    } else if (op == "ENTRYPOINT") {
      stage.entrypoint = json_array(rest);
    } else if (op == "CMD") {
      stage.cmd = json_array(rest);
    }
  }
  return file;
}

const Dockerfile::Stage& runtime_stage(const Dockerfile& file) { return file.stages.back(); }

// --- YAML helpers ------------------------------------------------------------------------------

std::vector<YamlNode> load_yaml(const std::string& path) {
  auto docs = parse_yaml(read_file(path), path);
  EXPECT_TRUE(docs.ok()) << (docs.ok() ? "" : docs.error().message);
  return docs.ok() ? *docs : std::vector<YamlNode>{};
}

// Compose's ${VAR}, ${VAR:-default} and ${VAR-default} with no variables set: the defaults.
std::string compose_interpolate(const std::string& value) {
  static const std::regex kVar(R"(\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\})");
  return std::regex_replace(value, kVar, "$1");
}

// Kubernetes' $(VAR) references to variables defined earlier in the container's env.
std::string k8s_expand(const std::string& value, const Env& defined) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 2, "$(") == 0) {
      size_t close = value.find(')', i);
      if (close != std::string::npos) {
        auto it = defined.find(value.substr(i + 2, close - i - 2));
        if (it != defined.end()) {
          out += it->second;
          i = close;
          continue;
        }
      }
    }
    out += value[i];
  }
  return out;
}

// A temp dir for extracted files, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nca-deploy-XXXXXX";
    path_ = mkdtemp(tmpl) != nullptr ? tmpl : "/tmp";
  }
  ~TempDir() {
    if (path_ != "/tmp") std::filesystem::remove_all(path_);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::string path_;
};

// --- tests -------------------------------------------------------------------------------------

TEST(DeployConfigTest, ImageDefaultsAreAcceptedAndMatchTheDockerfile) {
  Dockerfile file = parse_dockerfile(read_file(kDeploy + "/Dockerfile"));
  ASSERT_GE(file.stages.size(), 2u) << "a multi-stage build";
  const Dockerfile::Stage& build = file.stages.front();
  const Dockerfile::Stage& runtime = runtime_stage(file);
  EXPECT_NE(build.from.find("${DEBIAN_RELEASE}"), std::string::npos);
  EXPECT_NE(read_file(kDeploy + "/Dockerfile").find("ARG DEBIAN_RELEASE=bookworm"),
            std::string::npos)
      << "Debian 12";
  bool installs_deps = false, builds_with_ninja = false;
  for (const std::string& run : build.runs) {
    installs_deps = installs_deps || run.find("scripts/install-deps") != std::string::npos;
    builds_with_ninja = builds_with_ninja || run.find("-G Ninja") != std::string::npos;
  }
  EXPECT_TRUE(installs_deps && builds_with_ninja);
  EXPECT_FALSE(runtime.user.empty() || runtime.user == "root" || runtime.user == "0")
      << "the node runs as a non-root user";
  EXPECT_EQ(runtime.entrypoint, std::vector<std::string>{"/usr/local/bin/nca-node"});

  // The baked-in config file, as the container sees it.
  ASSERT_TRUE(runtime.env.count("NCA_CONFIG")) << "the image names its config file";
  const std::string in_image = runtime.env.at("NCA_CONFIG");
  ASSERT_TRUE(runtime.copies.count(in_image)) << in_image << " is copied into the image";
  Env env;
  for (const auto& [k, v] : runtime.env) {
    if (k.rfind("NCA_", 0) == 0) env[k] = v;
  }
  env["NCA_CONFIG"] = kSource + "/" + runtime.copies.at(in_image);
  auto settings = check_accepted(env, "the image's configuration", runtime.cmd);

  EXPECT_EQ(runtime.exposed, (std::set<std::string>{port_of(settings["node.listen"]),
                                                    port_of(settings["http.listen"])}))
      << "EXPOSE the SDK and HTTP ports the config listens on";
  EXPECT_EQ(settings["node.listen"].rfind("0.0.0.0:", 0), 0u) << "reachable from outside";
  EXPECT_EQ(settings["http.listen"].rfind("0.0.0.0:", 0), 0u) << "reachable from outside";
  EXPECT_EQ(runtime.volumes, std::vector<std::string>{settings["node.data-dir"]})
      << "the data directory is the volume";
  EXPECT_NE(runtime.healthcheck.find(":" + port_of(settings["http.listen"]) + "/health"),
            std::string::npos)
      << "the healthcheck asks /health on the HTTP port: " << runtime.healthcheck;
}

TEST(DeployConfigTest, EveryComposeNodeIsAcceptedAndTheyFormOneCluster) {
  Dockerfile image = parse_dockerfile(read_file(kDeploy + "/Dockerfile"));
  const Dockerfile::Stage& runtime = runtime_stage(image);
  auto docs = load_yaml(kDeploy + "/compose/compose.yaml");
  ASSERT_EQ(docs.size(), 1u);
  const YamlNode* services = docs[0].get("services");
  ASSERT_NE(services, nullptr);
  ASSERT_EQ(services->map.size(), 3u) << "three nodes";

  std::set<std::string> ids, advertised, host_ports;
  std::vector<std::string> seeds_of_first;
  for (const auto& [name, service] : services->map) {
    SCOPED_TRACE("compose service " + name);
    // The container's environment: the image's ENV, then the service's (compose overrides).
    Env env;
    for (const auto& [k, v] : runtime.env) {
      if (k.rfind("NCA_", 0) == 0) env[k] = v;
    }
    const YamlNode* environment = service.get("environment");
    ASSERT_NE(environment, nullptr);
    ASSERT_EQ(environment->kind, YamlNode::Kind::map) << "environment as a mapping";
    for (const auto& [k, v] : environment->map) {
      ASSERT_EQ(k.rfind("NCA_", 0), 0u) << k << ": only NCA_* variables reach the node";
      env[k] = compose_interpolate(v.text());
    }
    // Mounted files: the config file the node reads is one of deploy/compose/*.ini.
    std::map<std::string, std::string> mounts;  // container path -> host path or volume
    const YamlNode* volumes = service.get("volumes");
    ASSERT_NE(volumes, nullptr);
    for (const YamlNode& volume : volumes->seq) {
      std::vector<std::string> parts;
      std::stringstream in(volume.text());
      for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
      ASSERT_GE(parts.size(), 2u) << volume.text();
      mounts[parts[1]] = parts[0];
    }
    ASSERT_TRUE(mounts.count(env["NCA_CONFIG"])) << env["NCA_CONFIG"] << " is not mounted";
    std::string host_file = mounts[env["NCA_CONFIG"]];
    ASSERT_EQ(host_file.rfind("./", 0), 0u) << "a file next to compose.yaml: " << host_file;
    env["NCA_CONFIG"] = kDeploy + "/compose/" + host_file.substr(2);

    auto settings = check_accepted(env, "compose service " + name);
    ids.insert(settings["node.id"]);
    EXPECT_EQ(settings["cluster.advertise"], name + ":" + port_of(settings["node.listen"]))
        << "peers reach the node by its service name";
    EXPECT_EQ(service.get("hostname") ? service.get("hostname")->text() : "", name);
    advertised.insert(settings["cluster.advertise"]);
    if (seeds_of_first.empty()) seeds_of_first = split_list(settings["cluster.seeds"]);
    EXPECT_EQ(split_list(settings["cluster.seeds"]), seeds_of_first) << "one seed list";
    EXPECT_EQ(settings["cluster.join-secret"], "<redacted>") << "a join secret is set";
    EXPECT_TRUE(mounts.count(settings["node.data-dir"])) << "the data directory is a volume";
    EXPECT_EQ(service.get("image") ? service.get("image")->text() : "", "neuroca:0.1.0");

    // Published ports: host -> the container's SDK and HTTP ports.
    std::set<std::string> container_ports;
    const YamlNode* ports = service.get("ports");
    ASSERT_NE(ports, nullptr);
    for (const YamlNode& port : ports->seq) {
      std::string mapping = port.text();
      size_t colon = mapping.find(':');
      ASSERT_NE(colon, std::string::npos) << mapping;
      EXPECT_TRUE(host_ports.insert(mapping.substr(0, colon)).second)
          << "host port " << mapping << " used twice";
      container_ports.insert(mapping.substr(colon + 1));
    }
    EXPECT_EQ(container_ports, (std::set<std::string>{port_of(settings["node.listen"]),
                                                      port_of(settings["http.listen"])}));
  }
  EXPECT_EQ(ids.size(), 3u) << "distinct node ids";
  EXPECT_EQ(std::set<std::string>(seeds_of_first.begin(), seeds_of_first.end()), advertised)
      << "the seeds name every node";
}

TEST(DeployConfigTest, KubernetesConfigMapAndPodVariablesAreAccepted) {
  auto configmap_docs = load_yaml(kDeploy + "/k8s/configmap.yaml");
  auto service_docs = load_yaml(kDeploy + "/k8s/service.yaml");
  auto statefulset_docs = load_yaml(kDeploy + "/k8s/statefulset.yaml");
  ASSERT_EQ(configmap_docs.size(), 1u);
  ASSERT_FALSE(statefulset_docs.empty());
  const YamlNode& configmap = configmap_docs[0];
  const YamlNode& statefulset = statefulset_docs[0];
  ASSERT_EQ(configmap.get("kind")->text(), "ConfigMap");
  ASSERT_EQ(statefulset.get("kind")->text(), "StatefulSet");

  // The headless Service the StatefulSet names.
  const std::string service_name = statefulset.at({"spec", "serviceName"})->text();
  const YamlNode* headless = nullptr;
  for (const YamlNode& doc : service_docs) {
    if (doc.at({"metadata", "name"}) && doc.at({"metadata", "name"})->text() == service_name) {
      headless = &doc;
    }
  }
  ASSERT_NE(headless, nullptr) << "service.yaml defines " << service_name;
  EXPECT_EQ(headless->at({"spec", "clusterIP"})->text(), "None") << "headless";

  const YamlNode* pod = statefulset.at({"spec", "template", "spec"});
  ASSERT_NE(pod, nullptr);
  const YamlNode* containers = pod->get("containers");
  ASSERT_TRUE(containers != nullptr && containers->seq.size() == 1u);
  const YamlNode& container = containers->seq[0];

  // Where the ConfigMap is mounted, and its node.ini extracted to a file here.
  std::string config_volume;
  for (const YamlNode& volume : pod->get("volumes")->seq) {
    const YamlNode* cm = volume.at({"configMap", "name"});
    if (cm != nullptr && cm->text() == configmap.at({"metadata", "name"})->text()) {
      config_volume = volume.get("name")->text();
    }
  }
  ASSERT_FALSE(config_volume.empty()) << "the pod mounts the ConfigMap";
  std::map<std::string, std::string> mount_of;  // volume name -> mount path
  for (const YamlNode& mount : container.get("volumeMounts")->seq) {
    mount_of[mount.get("name")->text()] = mount.get("mountPath")->text();
  }
  TempDir temp;
  std::map<std::string, std::string> files_in_pod;  // path in the pod -> extracted file
  for (const auto& [key, value] : configmap.get("data")->map) {
    files_in_pod[mount_of[config_volume] + "/" + key] = temp.write(key, value.text());
  }

  const int replicas = std::stoi(statefulset.at({"spec", "replicas"})->text());
  ASSERT_EQ(replicas, 3);
  const std::string set_name = statefulset.at({"metadata", "name"})->text();
  std::set<std::string> advertised;
  std::vector<std::string> seeds;
  for (int ordinal = 0; ordinal < replicas; ++ordinal) {
    const std::string pod_name = set_name + "-" + std::to_string(ordinal);
    SCOPED_TRACE("pod " + pod_name);
    // The container's env in order, as the kubelet builds it: fieldRefs and secrets get this pod's
    // values (a stand-in for the secret), $(VAR) refers to variables defined above.
    Env defined, env;
    for (const YamlNode& var : container.get("env")->seq) {
      std::string name = var.get("name")->text();
      std::string value;
      if (const YamlNode* field = var.at({"valueFrom", "fieldRef", "fieldPath"})) {
        ASSERT_EQ(field->text(), "metadata.name") << "a fieldRef this test knows";
        value = pod_name;
      } else if (var.at({"valueFrom", "secretKeyRef", "name"}) != nullptr) {
        value = "secret-from-kubernetes";
      } else {
        ASSERT_NE(var.get("value"), nullptr) << name << " has a value";
        value = k8s_expand(var.get("value")->text(), defined);
      }
      defined[name] = value;
      if (name.rfind("NCA_", 0) == 0) env[name] = value;
    }
    ASSERT_TRUE(files_in_pod.count(env["NCA_CONFIG"]))
        << env["NCA_CONFIG"] << " is not a file of the mounted ConfigMap";
    env["NCA_CONFIG"] = files_in_pod[env["NCA_CONFIG"]];
    auto settings = check_accepted(env, "pod " + pod_name);

    EXPECT_EQ(settings["node.id"], pod_name);
    EXPECT_EQ(settings["cluster.advertise"],
              pod_name + "." + service_name + ":" + port_of(settings["node.listen"]))
        << "the pod's stable name through the headless Service";
    EXPECT_EQ(settings["cluster.join-secret"], "<redacted>");
    advertised.insert(settings["cluster.advertise"]);
    seeds = split_list(settings["cluster.seeds"]);
    EXPECT_EQ(mount_of["data"], settings["node.data-dir"]) << "the data volume";

    // Container ports and probes agree with the listen addresses.
    std::map<std::string, std::string> port_by_name;
    for (const YamlNode& port : container.get("ports")->seq) {
      port_by_name[port.get("name")->text()] = port.get("containerPort")->text();
    }
    EXPECT_EQ(port_by_name["node"], port_of(settings["node.listen"]));
    EXPECT_EQ(port_by_name["http"], port_of(settings["http.listen"]));
    const YamlNode* liveness = container.at({"livenessProbe", "httpGet"});
    const YamlNode* readiness = container.at({"readinessProbe", "httpGet"});
    ASSERT_TRUE(liveness != nullptr && readiness != nullptr);
    EXPECT_EQ(liveness->get("path")->text(), "/health");
    EXPECT_EQ(readiness->get("path")->text(), "/ready");
    EXPECT_EQ(port_by_name[liveness->get("port")->text()], port_of(settings["http.listen"]));
    EXPECT_EQ(port_by_name[readiness->get("port")->text()], port_of(settings["http.listen"]));
  }
  EXPECT_EQ(std::set<std::string>(seeds.begin(), seeds.end()), advertised)
      << "the seeds name every pod";
  EXPECT_EQ(pod->at({"securityContext", "runAsNonRoot"})->text(), "true");
}

// The harness itself: a configuration nca-node refuses must fail the checks above.
TEST(DeployConfigTest, ABrokenConfigurationIsRefused) {
  TempDir temp;
  std::string good = read_file(kDeploy + "/node.ini");
  ASSERT_FALSE(good.empty());
  std::string misspelt =
      std::regex_replace(good, std::regex("\nlisten = 0.0.0.0:7480"), "\nlisen = 0.0.0.0:7480");
  ASSERT_NE(misspelt, good);
  RunResult bad_key =
      run_node({"--check-config"}, {{"NCA_CONFIG", temp.write("misspelt.ini", misspelt)}});
  EXPECT_NE(bad_key.exit_code, 0) << bad_key.output;
  EXPECT_NE(bad_key.output.find("http.lisen"), std::string::npos) << bad_key.output;

  RunResult bad_env = run_node({"--check-config"}, {{"NCA_CONFIG", kDeploy + "/node.ini"},
                                                    {"NCA_HTTP_LISTEN", "0.0.0.0:http"}});
  EXPECT_NE(bad_env.exit_code, 0) << bad_env.output;
  EXPECT_NE(bad_env.output.find("http.listen"), std::string::npos) << bad_env.output;

  RunResult missing = run_node({"--check-config"}, {{"NCA_CONFIG", "/no/such/node.ini"}});
  EXPECT_NE(missing.exit_code, 0) << missing.output;
}

TEST(MiniYamlTest, ReadsTheSubsetAndRefusesWhatItDoesNotKnow) {
  auto docs = parse_yaml(
      "# comment\n"
      "a: 1\n"
      "b:\n"
      "  c: \"x # not a comment\"  # a comment\n"
      "  list:\n"
      "  - one\n"
      "  - 'it''s'\n"
      "  - name: n\n"
      "    value: $(POD).svc:7420\n"
      "  flow: [\"a\", b]\n"
      "  empty: {}\n"
      "text: |\n"
      "  line 1\n"
      "\n"
      "    indented\n"
      "after: yes\n"
      "---\n"
      "second: doc\n",
      "test.yaml");
  ASSERT_TRUE(docs.ok()) << docs.error().message;
  ASSERT_EQ(docs->size(), 2u);
  const YamlNode& d = (*docs)[0];
  EXPECT_EQ(d.get("a")->text(), "1");
  EXPECT_EQ(d.at({"b", "c"})->text(), "x # not a comment");
  const YamlNode* list = d.at({"b", "list"});
  ASSERT_EQ(list->seq.size(), 3u);
  EXPECT_EQ(list->seq[1].text(), "it's");
  EXPECT_EQ(list->seq[2].get("value")->text(), "$(POD).svc:7420");
  ASSERT_EQ(d.at({"b", "flow"})->seq.size(), 2u);
  EXPECT_EQ(d.at({"b", "flow"})->seq[1].text(), "b");
  EXPECT_EQ(d.at({"b", "empty"})->kind, YamlNode::Kind::map);
  EXPECT_EQ(d.get("text")->text(), "line 1\n\n  indented\n");
  EXPECT_EQ(d.get("after")->text(), "yes");
  EXPECT_EQ((*docs)[1].get("second")->text(), "doc");

  for (const char* bad : {"a: &anchor 1\n", "a: *alias\n", "a: {b: 1}\n", "a: 1\n  b: 2\n",
                          "a: 1\na: 2\n", "a: \"open\n", "- x\nb: 1\n", "a:\n\t- x\n"}) {
    auto refused = parse_yaml(bad, "bad.yaml");
    EXPECT_FALSE(refused.ok()) << "accepted: " << bad;
    if (!refused.ok()) {
      EXPECT_NE(refused.error().message.find("bad.yaml line "), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace nca::deploy_test
