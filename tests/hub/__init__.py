"""Test doubles of remote services (the Hugging Face Hub) for hermetic tests."""
