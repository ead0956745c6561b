//! First start of several nodes on one database at the same moment: one
//! administrator key comes out of it, shown by the node that made it.

use stowage::Config;

use crate::support::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_leave_one_admin_key() {
    let Db::Postgres(url) = Db::postgres().await else {
        unreachable!("Db::postgres makes a PostgreSQL database")
    };
    let master_key: String = (0..32).map(|i| format!("{:02x}", i * 7 + 3)).collect();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(url.clone()),
            master_key: Some(master_key.clone()),
            ..Config::default()
        };
        let state = stowage::open(&config, None).await.unwrap();
        nodes.push((dir, config, state));
    }
    let starts: Vec<_> = nodes
        .iter()
        .map(|(_, config, state)| {
            let (config, state) = (config.clone(), state.clone());
            tokio::spawn(async move { stowage::bootstrap_admin(&state, &config).await.unwrap() })
        })
        .collect();
    let mut shown = Vec::new();
    for (i, start) in starts.into_iter().enumerate() {
        if let Some(key) = start.await.unwrap() {
            shown.push((i, key));
        }
    }
    assert_eq!(shown.len(), 1, "exactly one node shows an admin key");
    let (winner, key) = &shown[0];
    let keys = nodes[0].2.meta.list_access_keys(&key.principal_arn).await.unwrap();
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![key.access_key_id.as_str()],
        "no unshown admin key is left behind"
    );
    for (i, (dir, _, _)) in nodes.iter().enumerate() {
        assert_eq!(dir.path().join("credentials").exists(), i == *winner);
    }
}
