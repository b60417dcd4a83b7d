//! `GitLab::project_repo`: a project named by its numeric id (as the original Spektate
//! dashboard configured GitLab) becomes its repository on this instance, from `GET
//! /projects/:id`; a hidden project, or an answer naming something that is not a project
//! path, is an error naming the project.

mod support;

use spektate_gitlab::Project;
use support::FakeGitLab;

#[tokio::test]
async fn a_project_id_becomes_its_repository_under_the_instance() {
    let gl = FakeGitLab::start_under("/gitlab").await;
    let (hld, hidden, odd) = {
        let mut w = gl.world();
        let hld = w.add_project("fabrikam/platform/hld");
        let hidden = w.add_project("fabrikam/secret/manifests");
        w.hidden.insert("fabrikam/secret/manifests".into());
        let odd = w.add_project("https://elsewhere.example/fabrikam/hld");
        (hld, hidden, odd)
    };
    let client = gl.client();
    let repo = client.project_repo(&Project::Id(hld)).await.unwrap();
    assert_eq!(repo, gl.repo("fabrikam/platform/hld"));
    assert!(client.serves_repo(&repo), "the token goes to this instance");
    assert!(
        gl.served()
            .iter()
            .any(|s| s.path == format!("/projects/{hld}"))
    );

    let e = client
        .project_repo(&Project::Id(hidden))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("project {hidden}")) && e.contains("not found"),
        "{e}"
    );
    let e = client
        .project_repo(&Project::Id(odd))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("elsewhere.example"), "refused by name: {e}");
}
