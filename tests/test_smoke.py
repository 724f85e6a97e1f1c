def test_create_and_read(client):
    r = client.post("/api/leads", json={"topic": "Demo"})
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"'
    lead = r.json()
    r = client.get(f"/api/leads/{lead['id']}")
    assert r.json()["stage"] == "inquiry"
    r = client.post(
        f"/api/leads/{lead['id']}/stage", json={"action": "next"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "automated_marketing_qualification"
    r = client.get(f"/api/leads/{lead['id']}/history")
    print(r.json())
    r = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"trigger": "hand_to_sale"},
        headers={"If-Match": '"2"'},
    )
    print(r.status_code, r.json())
    r = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"trigger": "start_teleprospecting"},
        headers={"If-Match": '"2"'},
    )
    print(r.status_code, r.json())
    r = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"trigger": "hand_to_sales"},
        headers={"If-Match": '"2"'},
    )
    print(r.status_code, r.json())
    r = client.patch(
        f"/api/leads/{lead['id']}",
        json={"sales_ready": True, "attributes": {"budget_amount": "x", "foo": 1}},
        headers={"If-Match": '"2"'},
    )
    print(r.status_code, r.json())
    r = client.patch(
        f"/api/leads/{lead['id']}", json={"sales_ready": True, "zz": 1}, headers={"If-Match": '"2"'}
    )
    print(r.status_code, r.json())
    r = client.patch(
        f"/api/leads/{lead['id']}", json={"sales_ready": True}, headers={"If-Match": '"2"'}
    )
    print(r.status_code, r.json())
    r = client.get(f"/api/leads/{lead['id']}/history")
    print(r.json())
    r = client.get("/api/leads?limit=500")
    print(r.status_code, r.json())
    r = client.get("/schema/openapi.json")
    print(r.status_code, len(r.text))
