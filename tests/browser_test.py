#!/usr/bin/env python3
"""The web page in a real browser (headless Chromium + chromedriver, selenium)
against the real nio-server on a loopback port.

Loads the page, picks a preset, moves a slider with the keyboard, optimizes,
and checks that the cards show what a gRPC call (stock grpcio client) answers
for the same track and options; that the live chart got points; that a bad
value shows an inline error and sends nothing; that the page fits a phone-width
screen; that a CSV catalog uploads, streams into the table and downloads back
with every row once; and that the browser console has no errors. Screenshots
go to --artifacts.

  tests/browser_test.py --server build/service/nio-server --artifacts build/test-artifacts
"""
import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    print(f"browser_test: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def start_server(binary):
    server = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
                               "--backend", "cpu"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    log = ""
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            fail(f"nio-server exited: {log}")
        log += line
        m = re.search(r"listening on ([0-9.]+:[0-9]+) \(gRPC\), (http://[0-9.]+:[0-9]+) \(HTTP\)", line)
        if m:
            return server, m.group(1), m.group(2)
    fail("nio-server did not start")


def wait_for(driver, predicate, what, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate(d))
    except Exception:
        driver.save_screenshot(os.path.join(ARTIFACTS, "failure.png"))
        fail(f"timed out waiting for {what}")


def make_catalog(model, path, rows=24):
    """A CSV in the Spotify tracks layout, values drawn inside each feature's
    range; two rows have tempo 0, which the model refuses, and one a tempo
    that is not a number: they fail alone."""
    rng = random.Random(7)
    names = [f["name"] for f in model["features"]]
    header = ["", "track_id", "artists", "album_name", "track_name", "popularity"] + names + ["track_genre"]
    ids = []
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(rows):
            values = []
            for feat in model["features"]:
                lo, hi = feat["box_min"], feat["box_max"]
                v = rng.uniform(lo, hi)
                if feat["kind"] in ("integer", "binary"):
                    v = round(v)
                if feat["name"] == "explicit":
                    v = "True" if v else "False"
                if feat["name"] == "tempo" and i in (5, 17):
                    v = 0
                if feat["name"] == "tempo" and i == 9:
                    v = "abc"
                values.append(v)
            track_id = f"trk{i:03d}"
            ids.append(track_id)
            w.writerow([i, track_id, "Artist, \"Quoted\"", "Album", f"Song {i}", 50] + values +
                       [rng.choice(model["genres"])])
    return ids


def main():
    global ARTIFACTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--artifacts", required=True, help="folder for screenshots")
    args = ap.parse_args()
    ARTIFACTS = args.artifacts
    os.makedirs(ARTIFACTS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="nio-browser-")
    sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
    import nio_grpc_stubs
    nio_pb2, nio_pb2_grpc = nio_grpc_stubs.load()
    import grpc
    from google.protobuf import json_format
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    server, grpc_address, url = start_server(args.server)
    driver = None
    try:
        model = json.load(urllib.request.urlopen(url + "/v1/model"))
        downloads = os.path.join(tmp, "downloads")
        os.makedirs(downloads)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1100,1400"):
            options.add_argument(a)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                                  "download.prompt_for_download": False})
        from selenium.webdriver.chrome.service import Service
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                  options=options)
        driver.get(url + "/")
        wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
                 "the page to load the model")
        driver.save_screenshot(os.path.join(ARTIFACTS, "1-loaded.png"))

        # A preset, then a slider moved with the keyboard.
        preset = next((p for p in model["presets"] if p["name"] != "custom"), model["presets"][0])
        Select(driver.find_element(By.ID, "preset")).select_by_value(preset["name"])
        if driver.find_element(By.ID, "genre").get_attribute("value") != preset["track"]["genre"]:
            fail("picking the preset did not set its genre")
        before = driver.find_element(By.ID, "val-danceability").get_attribute("value")
        slider = driver.find_element(By.ID, "rng-danceability")
        slider.send_keys(Keys.ARROW_LEFT * 10)
        after = driver.find_element(By.ID, "val-danceability").get_attribute("value")
        if before == after:
            fail(f"moving the danceability slider left did not change its value ({before})")

        # Optimize with the keyboard (Enter on the button).
        driver.find_element(By.ID, "optimize").send_keys(Keys.ENTER)
        wait_for(driver, lambda d: d.find_element(By.ID, "status").text == "Done.", "the optimization")
        driver.execute_script("document.getElementById('result').scrollIntoView()")
        driver.save_screenshot(os.path.join(ARTIFACTS, "2-optimized.png"))
        cards = {k: driver.find_element(By.ID, f"card-{k}").text for k in ("before", "after", "raw", "delta")}
        points = int(driver.find_element(By.ID, "live-chart").get_attribute("data-points") or 0)
        if points < 5:
            fail(f"the live chart has {points} points")
        suggestions = driver.find_elements(By.CSS_SELECTOR, "#suggestions li")
        table_rows = driver.find_elements(By.CSS_SELECTOR, "#changes tbody tr")
        if not suggestions or not table_rows:
            fail("no suggestions or no per-feature table")

        # The same track and options through gRPC.
        track = {"id": "page", "genre": driver.find_element(By.ID, "genre").get_attribute("value"),
                 "features": {f["name"]: float(driver.find_element(By.ID, f"val-{f['name']}").get_attribute("value"))
                              for f in model["features"]}}
        opts = {"optimizer": driver.find_element(By.ID, "opt-optimizer").get_attribute("value"),
                "mode": driver.find_element(By.ID, "opt-mode").get_attribute("value"),
                "steps": int(driver.find_element(By.ID, "opt-steps").get_attribute("value")),
                "lambda": float(driver.find_element(By.ID, "opt-lambda").get_attribute("value")),
                "starts": int(driver.find_element(By.ID, "opt-starts").get_attribute("value")),
                "mutable_features": [f["name"] for f in model["features"]
                                     if driver.find_element(By.ID, f"mut-{f['name']}").is_selected()]}
        request = json_format.ParseDict({"tracks": [track], "options": opts}, nio_pb2.OptimizeRequest())
        stub = nio_pb2_grpc.NioStub(grpc.insecure_channel(grpc_address))
        r = stub.Optimize(request, timeout=60).results[0]
        if r.status.code != 0:
            fail(f"gRPC refused the page's track: {r.status.message}")

        def two(v):
            return f"{v:.2f}" if abs(v) < 100 else f"{v:.1f}"
        expected = {"before": two(r.prediction_before), "after": two(r.prediction_after),
                    "raw": two(r.prediction_raw), "delta": ("+" if r.delta > 0 else "") + two(r.delta)}
        if cards != expected:
            fail(f"the cards {cards} differ from the gRPC answer {expected}")
        print(f"browser_test: cards {cards} == gRPC; live chart {points} points; "
              f"{len(suggestions)} suggestions")

        # A bad value: an inline error, and nothing is sent.
        tempo = driver.find_element(By.ID, "val-tempo")
        tempo.clear()
        tempo.send_keys("-5")
        message = driver.find_element(By.ID, "msg-tempo").text
        if "tempo" not in message:
            fail(f"no inline error for tempo -5 (got '{message}')")
        driver.find_element(By.ID, "optimize").click()
        err = driver.find_element(By.ID, "options-error")
        if not err.is_displayed() or "red" not in err.text:
            fail(f"optimize with a bad value showed no error ('{err.text}')")
        driver.save_screenshot(os.path.join(ARTIFACTS, "3-inline-error.png"))
        tempo.clear()
        tempo.send_keys("120")

        # A phone-width screen: nothing wider than the screen.
        driver.set_window_size(390, 900)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        inner = driver.execute_script("return document.documentElement.clientWidth")
        driver.save_screenshot(os.path.join(ARTIFACTS, "4-phone.png"))
        if width > inner:
            fail(f"at phone width the page is {width} px wide in a {inner} px window")
        driver.set_window_size(1100, 1400)

        # The small catalog: upload, stream into the table, download.
        csv_path = os.path.join(tmp, "catalog.csv")
        ids = make_catalog(model, csv_path)
        driver.find_element(By.ID, "tab-catalog").click()
        driver.find_element(By.ID, "csv-file").send_keys(csv_path)
        wait_for(driver, lambda d: d.find_element(By.ID, "csv-run").is_enabled(), "the CSV to be read")
        driver.find_element(By.ID, "csv-run").click()
        wait_for(driver, lambda d: d.find_element(By.ID, "csv-status").text.startswith("Done"),
                 "the catalog results", timeout=120)
        rows = driver.find_elements(By.CSS_SELECTOR, "#csv-results tbody tr")
        if len(rows) != len(ids):
            fail(f"the results table has {len(rows)} rows for {len(ids)} tracks")
        driver.save_screenshot(os.path.join(ARTIFACTS, "5-catalog.png"))
        driver.find_element(By.ID, "csv-download").click()
        target = os.path.join(downloads, "nio-results.csv")
        wait_for(driver, lambda d: os.path.exists(target) and os.path.getsize(target) > 0, "the download")
        with open(target) as f:
            back = list(csv.DictReader(f))
        if sorted(row["track_id"] for row in back) != sorted(ids):
            fail("the downloaded CSV does not hold every uploaded track exactly once")
        failed = [row for row in back if row["status"] != "ok"]
        if (len(failed) != 3 or any("tempo" not in row["status"] for row in failed)
                or sum("not a number" in row["status"] for row in failed) != 1):
            fail(f"expected the 3 rows with a bad tempo to fail alone, got {failed}")
        print(f"browser_test: catalog of {len(ids)} rows round-tripped; {len(failed)} bad rows failed alone")

        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            fail(f"console errors: {errors}")
        print(f"browser_test: OK (screenshots in {ARTIFACTS})")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
