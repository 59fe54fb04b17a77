//! `GET /client/v4/user/tokens/verify`: the configured token is active, any other is
//! refused with 401 and code 1000, and the answer never echoes the token.

use crate::common::*;
use cloudflare_images_emulator::Config;

#[tokio::test]
async fn the_token_is_verified_and_a_wrong_one_is_refused() {
    let ctx = Ctx::new().await;
    let url = format!("{}/user/tokens/verify", ctx.emu.base_url());

    let a = Ctx::raw(ctx.http.get(&url).bearer_auth(TOKEN)).await;
    let result = a.assert_ok();
    assert_eq!(result["status"], "active");
    assert_eq!(result["id"].as_str().map(str::len), Some(32));
    assert!(!a.json.to_string().contains(TOKEN));

    let a = Ctx::raw(ctx.http.get(&url).bearer_auth("wrong")).await;
    a.assert_error(401, 1000);
    assert_eq!(a.json["errors"][0]["message"], "Invalid API Token");

    let a = Ctx::raw(ctx.http.get(&url)).await;
    a.assert_error(401, 1000);
    let a = Ctx::raw(
        ctx.http
            .get(&url)
            .header("X-Auth-Email", "a@example.com")
            .header("X-Auth-Key", "k"),
    )
    .await;
    a.assert_error(401, 1000);

    let a = Ctx::raw(ctx.http.post(&url).bearer_auth(TOKEN)).await;
    a.assert_error(405, 10405);

    // Without a configured token any bearer token is active, as for the other routes.
    let open = Ctx::with(Config::default()).await;
    let url = format!("{}/user/tokens/verify", open.emu.base_url());
    let a = Ctx::raw(open.http.get(&url).bearer_auth("anything")).await;
    assert_eq!(a.assert_ok()["status"], "active");
}
