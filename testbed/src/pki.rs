//! Credentials of one instance: a CA, the API server's serving certificate (for 127.0.0.1 and
//! localhost), its client certificate towards the kubelet, the service-account signing key
//! (openssl, EC P-256), and a bearer token per identity, each in its own kubeconfig.
//!
//! Whatever grants access (keys, tokens, kubeconfigs) is written owner-only (0600) and the
//! directories holding it are 0700: a token of the instance is cluster-admin, and with privileged
//! pods allowed that is root on the host.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::run;
use crate::error::{TestbedError, io};

/// The identities of a cluster: who talks to the API server, with which token and groups.
pub(crate) struct Identities {
    /// (kubeconfig name, user, token, groups).
    pub(crate) users: Vec<(String, String, String, &'static str)>,
}

/// The files of an instance's credentials.
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
}

impl Pki {
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub(crate) fn serving_cert(&self) -> PathBuf {
        self.dir.join("apiserver.crt")
    }
    pub(crate) fn serving_key(&self) -> PathBuf {
        self.dir.join("apiserver.key")
    }
    pub(crate) fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }
    pub(crate) fn service_account_public(&self) -> PathBuf {
        self.dir.join("sa.pub")
    }
    pub(crate) fn tokens(&self) -> PathBuf {
        self.dir.join("tokens.csv")
    }
    pub(crate) fn kubelet_client_cert(&self) -> PathBuf {
        self.dir.join("apiserver-kubelet-client.crt")
    }
    pub(crate) fn kubelet_client_key(&self) -> PathBuf {
        self.dir.join("apiserver-kubelet-client.key")
    }
}

/// Creates `dir` (and its parents) and makes it owner-only (0700), also when it existed.
pub(crate) fn private_dir(dir: &Path) -> Result<(), TestbedError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// Writes `contents` to `path` owner-only (0600): through a new file renamed into place, so
/// the contents are never readable by others, not even for a moment, and an earlier file of
/// looser mode is replaced rather than rewritten.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), TestbedError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(contents))
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn openssl(args: &[&str], dir: &Path, what: &str) -> Result<(), TestbedError> {
    run(Command::new("openssl").args(args).current_dir(dir), what).map(|_| ())
}

/// A random token (32 hex digits) from the kernel's generator.
fn token() -> Result<String, TestbedError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io(path))?;
    Ok(hex::encode(bytes))
}

/// An EC P-256 key in `file`; `whose` names it in an error ("the CA" → "creating the CA key").
fn ec_key(dir: &Path, file: &str, whose: &str) -> Result<(), TestbedError> {
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            file,
        ],
        dir,
        &format!("creating {whose} key"),
    )
}

/// `NAME.crt` for the key `NAME.key`: a request with `subject`, signed by the CA with the
/// extensions of the file `extensions`.
fn signed_certificate(
    dir: &Path,
    name: &str,
    subject: &str,
    extensions: &str,
    whose: &str,
) -> Result<(), TestbedError> {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    openssl(
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
        dir,
        &format!("creating {whose} request"),
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-extfile",
            extensions,
            "-out",
            &crt,
        ],
        dir,
        &format!("signing {whose} certificate"),
    )
}

/// Creates the CA, serving certificate, service-account key and tokens in `dir`.
/// `kubelets` are (kubeconfig name, node name) of each node's kubelet.
pub(crate) fn create(
    dir: &Path,
    kubelets: &[(String, String)],
) -> Result<(Pki, Identities), TestbedError> {
    private_dir(dir)?;
    let san = dir.join("san.cnf");
    std::fs::write(
        &san,
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.43.0.1\n",
    )
    .map_err(io(&san))?;
    let client = dir.join("client.cnf");
    std::fs::write(&client, "extendedKeyUsage=clientAuth\n").map_err(io(&client))?;

    ec_key(dir, "ca.key", "the CA")?;
    openssl(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=faastwin-testbed-ca",
            "-days",
            "3650",
            "-out",
            "ca.crt",
        ],
        dir,
        "creating the CA certificate",
    )?;
    ec_key(dir, "apiserver.key", "the API server's")?;
    signed_certificate(
        dir,
        "apiserver",
        "/CN=kube-apiserver",
        "san.cnf",
        "the API server's",
    )?;
    ec_key(dir, "sa.ec", "the service-account")?;
    openssl(
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "sa.ec", "-out", "sa.key",
        ],
        dir,
        "converting the service-account key",
    )?;
    openssl(
        &["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
        dir,
        "extracting the service-account public key",
    )?;
    // The API server's identity towards the kubelet (logs, exec), which authenticates every
    // request: a client certificate of the cluster's CA in system:masters, as kubeadm's
    // apiserver-kubelet-client.
    ec_key(
        dir,
        "apiserver-kubelet-client.key",
        "the API server's kubelet client",
    )?;
    signed_certificate(
        dir,
        "apiserver-kubelet-client",
        "/O=system:masters/CN=kube-apiserver-kubelet-client",
        "client.cnf",
        "the API server's kubelet client",
    )?;
    // openssl writes keys by its umask; none of them is for anyone else.
    for key in [
        "ca.key",
        "apiserver.key",
        "sa.ec",
        "sa.key",
        "apiserver-kubelet-client.key",
    ] {
        let path = dir.join(key);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(io(&path))?;
    }
    let identities = Identities::of(kubelets)?;
    let pki = Pki {
        dir: dir.to_owned(),
    };
    let csv: String = identities
        .users
        .iter()
        .map(|(_, user, token, groups)| format!("{token},{user},{user},\"{groups}\"\n"))
        .collect();
    write_private(&pki.tokens(), csv.as_bytes())?;
    Ok((pki, identities))
}

impl Identities {
    /// The cluster's identities, each with a new random token: the admin, the controller
    /// manager, the scheduler and each node's kubelet (`kubelets`: kubeconfig name, node).
    fn of(kubelets: &[(String, String)]) -> Result<Identities, TestbedError> {
        let mut users = vec![
            (
                "admin".into(),
                "admin".to_owned(),
                token()?,
                "system:masters",
            ),
            (
                "controller-manager".into(),
                "system:kube-controller-manager".to_owned(),
                token()?,
                "",
            ),
            (
                "scheduler".into(),
                "system:kube-scheduler".to_owned(),
                token()?,
                "",
            ),
        ];
        for (name, node) in kubelets {
            users.push((
                name.clone(),
                format!("system:node:{node}"),
                token()?,
                "system:nodes",
            ));
        }
        Ok(Identities { users })
    }
}

/// A kubeconfig for `user` with `token` against `server`, trusting `ca`.
pub(crate) fn kubeconfig(server: &str, ca: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: faastwin-testbed\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: faastwin-testbed\n  context:\n    cluster: faastwin-testbed\n    user: {user}\ncurrent-context: faastwin-testbed\n",
        ca = ca.display()
    )
}
