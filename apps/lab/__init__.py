"""The lab technician's Streamlit app: today's worklist and result entry."""
