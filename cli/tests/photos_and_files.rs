//! Photos and files from the command line: `send --file`, `messages` naming the attachment and
//! its state, `blob get` writing it out, with both nodes running (`hearth run`).

mod support;

use support::*;

fn write_photo(path: &std::path::Path) {
    let img = image::RgbImage::from_fn(2600, 1300, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn photos_and_files_go_out_with_send_file_and_come_back_with_blob_get() {
    let root = tempfile::tempdir().unwrap();
    let alice = identity(root.path(), "Alice");
    let bob = identity(root.path(), "Bob");
    let local = [
        "--lan-only",
        "--no-mdns",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ];
    let _ra = Running::start(&alice, None, None, &local);
    let rb = Running::start(&bob, None, None, &local);
    befriend(&alice, &bob);

    let png = root.path().join("garden.png");
    write_photo(&png);
    let sent = hearth_json(
        &alice,
        &[
            "send",
            "--to",
            "Bob",
            "--file",
            png.to_str().unwrap(),
            "the garden",
        ],
    );
    let blob = sent[0]["blob"].as_str().unwrap().to_string();
    let got = rb.wait_for("Bob receives the photo", 30, |v| {
        v["event"] == "message_received"
    });
    assert_eq!(got["blob"], blob.as_str());
    assert_eq!(got["body"], "the garden");
    rb.wait_for("progress to the whole", 30, |v| {
        v["event"] == "blob_progress" && v["blob"] == blob.as_str() && v["have"] == v["of"]
    });
    let listed = hearth_json(&bob, &["messages", "--chat", "Alice"]);
    let a = &listed.last().unwrap()["attachment"];
    assert_eq!(a["blob"], blob.as_str(), "{listed:?}");
    assert_eq!(a["kind"], "photo");
    assert_eq!(a["name"], "garden.jpg");
    assert_eq!(a["state"]["state"], "complete");
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(2048), Some(1024))
    );
    let text = hearth(&bob, &["messages", "--chat", "Alice"]);
    assert!(
        text.contains("[photo garden.jpg") && text.contains("complete"),
        "{text}"
    );

    let out = root.path().join("from-bob.jpg");
    let saved = hearth_json(
        &bob,
        &["blob", "get", &blob[..10], "--out", out.to_str().unwrap()],
    );
    assert_eq!(saved[0]["blob"], blob.as_str());
    let jpeg = std::fs::read(&out).unwrap();
    assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG");
    let mine = root.path().join("from-alice.jpg");
    hearth(
        &alice,
        &["blob", "get", &blob, "--out", mine.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&mine).unwrap(), jpeg);

    // Any file goes as it is.
    let doc = root.path().join("recipe.txt");
    std::fs::write(&doc, "김치찌개: 김치, 돼지고기, 두부\n").unwrap();
    let sent = hearth_json(
        &alice,
        &["send", "--to", "Bob", "--file", doc.to_str().unwrap()],
    );
    let blob = sent[0]["blob"].as_str().unwrap().to_string();
    let out = root.path().join("recipe-copy.txt");
    eventually("Bob can save the recipe", 30, || {
        hearth_from(
            root.path(),
            &bob,
            &[
                "blob",
                "get",
                &blob,
                "--out",
                out.to_str().unwrap(),
                "--timeout",
                "1",
            ],
            "",
        )
        .status
        .success()
    });
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&doc).unwrap());
    let listed = hearth_json(&bob, &["messages", "--chat", "Alice"]);
    assert_eq!(listed.last().unwrap()["attachment"]["kind"], "file");
}
