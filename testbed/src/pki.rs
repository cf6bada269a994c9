//! Credentials of one instance: a CA, the API server's serving certificate (for 127.0.0.1 and
//! localhost), the service-account signing key (openssl, EC P-256), and a bearer token per
//! identity, each in its own kubeconfig.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::run;
use crate::error::{TestbedError, io};

/// The identities of a cluster: who talks to the API server, with which token and groups.
pub(crate) struct Identities {
    /// (kubeconfig name, user, token, groups).
    pub(crate) users: Vec<(&'static str, String, String, &'static str)>,
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

/// Creates the CA, serving certificate, service-account key and tokens in `dir`.
pub(crate) fn create(dir: &Path, node: &str) -> Result<(Pki, Identities), TestbedError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let steps: [(&[&str], &str); 8] = [
        (
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ca.key",
            ],
            "creating the CA key",
        ),
        (
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
            "creating the CA certificate",
        ),
        (
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "apiserver.key",
            ],
            "creating the API server's key",
        ),
        (
            &[
                "req",
                "-new",
                "-key",
                "apiserver.key",
                "-subj",
                "/CN=kube-apiserver",
                "-out",
                "apiserver.csr",
            ],
            "creating the API server's request",
        ),
        (
            &[
                "x509",
                "-req",
                "-in",
                "apiserver.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-extfile",
                "san.cnf",
                "-out",
                "apiserver.crt",
            ],
            "signing the API server's certificate",
        ),
        (
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sa.ec",
            ],
            "creating the service-account key",
        ),
        (
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "sa.ec", "-out", "sa.key",
            ],
            "converting the service-account key",
        ),
        (
            &["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
            "extracting the service-account public key",
        ),
    ];
    let san = dir.join("san.cnf");
    std::fs::write(
        &san,
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.43.0.1\n",
    )
    .map_err(io(&san))?;
    for (args, what) in steps {
        openssl(args, dir, what)?;
    }
    let users = vec![
        ("admin", "admin".to_owned(), token()?, "system:masters"),
        (
            "controller-manager",
            "system:kube-controller-manager".to_owned(),
            token()?,
            "",
        ),
        (
            "scheduler",
            "system:kube-scheduler".to_owned(),
            token()?,
            "",
        ),
        (
            "kubelet",
            format!("system:node:{node}"),
            token()?,
            "system:nodes",
        ),
    ];
    let pki = Pki {
        dir: dir.to_owned(),
    };
    let csv: String = users
        .iter()
        .map(|(_, user, token, groups)| format!("{token},{user},{user},\"{groups}\"\n"))
        .collect();
    std::fs::write(pki.tokens(), csv).map_err(io(&pki.tokens()))?;
    Ok((pki, Identities { users }))
}

/// A kubeconfig for `user` with `token` against `server`, trusting `ca`.
pub(crate) fn kubeconfig(server: &str, ca: &Path, user: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: faastwin-testbed\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: faastwin-testbed\n  context:\n    cluster: faastwin-testbed\n    user: {user}\ncurrent-context: faastwin-testbed\n",
        ca = ca.display()
    )
}
